#!/usr/bin/env python3
"""Backend benchmark: PyTorch eager vs ONNX Runtime vs OpenVINO, depth-only and full pipeline.

For each model x input size x backend: depth-only FPS (the bare depth network on a (1, 3, H, W)
tensor) and full-pipeline FPS (`Estimator.process`: depth, camera motion, flow, mask, at the
network's size), absolute and as a ratio to PyTorch eager. Models: the shipped default weights
at 640x192 and at their own input size, and the default architecture (`RMDepthConfig()`) with
random weights at 640x192 (speed does not depend on the weight values). All runs are
interleaved in one process, round by round, so that every backend sees the same load on a
shared machine; each figure is 1 / the median time per frame. Prints the threads and the load
average before and after. A table, or with --json one JSON line. ONNX files are exported on
first use and cached (README "CPU backends"); a backend whose package is missing is left out
with a note.

    python bench/bench_backends.py [--rounds 5] [--threads 2] [--json]

Torch's OpenMP threads are made to sleep rather than spin while they wait
(OMP_WAIT_POLICY=PASSIVE unless the environment sets it; ONNX Runtime's pool is set likewise in
rmdepth_ros.backends): on a machine shared with other CPU jobs, spinning threads lost 10-30x
here (torch at 192x64), which measures the load, not the backend. The header says which
policy was in force; `OMP_WAIT_POLICY=ACTIVE python bench/bench_backends.py` for torch's default.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')  # read once, when torch loads OpenMP

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rmdepth_ros.backends import BACKENDS  # noqa: E402
from rmdepth_ros.inference import Estimator  # noqa: E402
from rmdepth_ros.model.config import RMDepthConfig  # noqa: E402
from rmdepth_ros.model.rmdepth import RMDepth  # noqa: E402
from rmdepth_ros.model.weights import load_weights  # noqa: E402

FULL_SIZE = (640, 192)
#: Frames per measurement at 640x192; smaller inputs get proportionally more (same time each).
FRAMES_AT_FULL_SIZE = 1


def available_backends() -> tuple[list[str], list[str]]:
    """(backends whose packages are installed, notes on the others)."""
    usable, notes = [], []
    for backend in BACKENDS:
        missing = [p for p in (backend, 'onnx') if backend != 'torch'
                   and importlib.util.find_spec(p) is None]
        if missing:
            notes.append(f"{backend} left out: {', '.join(missing)} not installed "
                         '(pip install -r requirements-backends.txt)')
        else:
            usable.append(backend)
    return usable, notes


def cases() -> list[tuple[str, RMDepth, dict, tuple[int, int]]]:
    """(label, model, metadata, input size) of every measured model and size."""
    shipped, metadata = load_weights(None)
    own = tuple(metadata['input_size'])
    torch.manual_seed(0)
    random = RMDepth(RMDepthConfig()).eval()  # (in-memory: its ONNX files go to the user cache)
    found = [('shipped', shipped, metadata, FULL_SIZE)]
    if own != FULL_SIZE:
        found.append(('shipped', shipped, metadata, own))
    found.append(('default arch, random', random, {}, FULL_SIZE))
    return found


class Subject:
    """One Estimator (model, size, backend) with its frames and its per-frame times."""

    def __init__(self, label: str, model: RMDepth, metadata: dict, size: tuple[int, int],
                 backend: str) -> None:
        self.label, self.size, self.backend = label, size, backend
        self.estimator = Estimator(model=model, metadata=metadata, device='cpu',
                                   input_size=size, output='network', backend=backend,
                                   log=lambda line: print(f'# {line}', file=sys.stderr))
        width, height = size
        rng = np.random.default_rng(0)
        self.images = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
                       for _ in range(4)]
        self.k = np.array([[0.58 * width, 0, width / 2 - 0.5],
                           [0, 1.92 * height, height / 2 - 0.5], [0, 0, 1]])
        self.tensor = torch.rand(1, 3, height, width)
        self.frames = max(1, round(FRAMES_AT_FULL_SIZE * FULL_SIZE[0] * FULL_SIZE[1]
                                   / (width * height)))
        self.stamp, self.count = 0.0, 0
        self.times: dict[str, list[float]] = {'depth': [], 'pipeline': []}

    def run(self, frames: int | None = None, record: bool = True) -> None:
        """One measurement of each kind: `frames` depth-only calls, then `frames` frames."""
        frames = frames or self.frames
        runner = self.estimator._runner  # the bare network call the Estimator makes
        with torch.inference_mode():
            for _ in range(frames):
                start = time.perf_counter()
                runner.depth(self.tensor)
                self._note('depth', start, record)
        for _ in range(frames):
            self.stamp += 0.1
            self.count += 1
            start = time.perf_counter()
            self.estimator.process(self.images[self.count % 4], self.k, self.stamp)
            self._note('pipeline', start, record)

    def _note(self, kind: str, start: float, record: bool) -> None:
        if record:
            self.times[kind].append(time.perf_counter() - start)

    def fps(self, kind: str) -> float:
        return 1.0 / statistics.median(self.times[kind])


def measure(rounds: int) -> tuple[list[Subject], list[str]]:
    backends, notes = available_backends()
    subjects = [Subject(label, model, metadata, size, backend)
                for label, model, metadata, size in cases() for backend in backends]
    for subject in subjects:  # warm-up (first calls allocate; the pipeline needs a previous frame)
        subject.run(frames=1, record=False)
    for index in range(rounds):
        # Rotate the order each round so that no backend always runs first.
        shift = index % len(subjects)
        for subject in subjects[shift:] + subjects[:shift]:
            subject.run()
    return subjects, notes


def rows(subjects: list[Subject]) -> list[dict]:
    reference = {(s.label, s.size): s for s in subjects if s.backend == 'torch'}
    table = []
    for s in subjects:
        base = reference[(s.label, s.size)]
        table.append({
            'model': s.label, 'input': '{}x{}'.format(*s.size), 'backend': s.backend,
            'depth_fps': round(s.fps('depth'), 2),
            'depth_ratio': round(s.fps('depth') / base.fps('depth'), 2),
            'pipeline_fps': round(s.fps('pipeline'), 2),
            'pipeline_ratio': round(s.fps('pipeline') / base.fps('pipeline'), 2),
            'measurements': len(s.times['pipeline'])})
    return table


def versions() -> dict[str, str]:
    found = {'torch': torch.__version__}
    for package in ('onnxruntime', 'openvino'):
        if importlib.util.find_spec(package) is not None:
            found[package] = __import__(package).__version__.split('-')[0]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=5, help='interleaved rounds (default 5)')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads of every backend (default: torch default)')
    parser.add_argument('--json', action='store_true', help='print one JSON line')
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error('--rounds must be at least 1')
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    start = time.perf_counter()
    subjects, notes = measure(args.rounds)
    result = {'rows': rows(subjects), 'threads': torch.get_num_threads(),
              'cpu_count': os.cpu_count(), 'cpu': platform.processor() or platform.machine(),
              'load_before': [round(v, 2) for v in load_before],
              'load_after': [round(v, 2) for v in os.getloadavg()],
              'omp_wait_policy': os.environ['OMP_WAIT_POLICY'],
              'rounds': args.rounds, 'versions': versions(), 'notes': notes,
              'seconds': round(time.perf_counter() - start, 1)}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"threads {result['threads']} of {result['cpu_count']} CPUs, OMP_WAIT_POLICY "
          f"{result['omp_wait_policy']}; load average before {result['load_before']}, "
          f"after {result['load_after']}; "
          f"{args.rounds} rounds, {result['seconds']} s; "
          + ', '.join(f'{k} {v}' for k, v in result['versions'].items()))
    print('| model | input | backend | depth FPS | x torch | pipeline FPS | x torch |')
    print('|---|---|---|---:|---:|---:|---:|')
    for row in result['rows']:
        print(f"| {row['model']} | {row['input']} | {row['backend']} | {row['depth_fps']:.2f} "
              f"| {row['depth_ratio']:.2f} | {row['pipeline_fps']:.2f} "
              f"| {row['pipeline_ratio']:.2f} |")
    for note in notes:
        print(f'note: {note}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
