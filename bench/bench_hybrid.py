"""Extra cost of the hybrid motion source, and how far a standing camera drifts with it.

    .venv/bin/python bench/bench_hybrid.py [--weights FILE] [--frames 30] [--threads 1]
                                           [--size 640x192] [--json out.json]

Cost: held-out synthetic frames (seed 2000) of --size go through two estimators in turn, one
with motion_source 'network', one with 'hybrid', frame by frame (interleaved, so load on the
machine hits both alike). Printed: the median of each one's `process` time per frame, their
difference (the extra cost) and ratio, and the median time of the hybrid step alone.

Standing camera: a synthetic sequence whose camera stands still while traffic moves (motion
style 'static', seed 2900): the per-frame translation (model units; the shipped weights are
near-metric on the synthetic camera) of each motion source, and the largest.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import torch

from rmdepth_ros.inference import Estimator
from rmdepth_ros.motion.hybrid import HybridMotion
from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence


def _frames(size: tuple[int, int], count: int, seed: int, **config) -> list:
    with warnings.catch_warnings():  # the renderer's harmless NaN warnings (sky rays)
        warnings.simplefilter('ignore', RuntimeWarning)
        return list(SyntheticSequence(SynthConfig(width=size[0], height=size[1], frames=count,
                                                  seed=seed, **config)))


def cost(weights: str | None, size: tuple[int, int], count: int) -> dict[str, float]:
    estimators = {source: Estimator(weights, device='cpu', motion_source=source)
                  for source in ('network', 'hybrid')}
    step_ms: list[float] = []
    original = HybridMotion.step

    def timed(self, *args, **kwargs):
        tick = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            step_ms.append((time.perf_counter() - tick) * 1000.0)

    HybridMotion.step = timed
    totals: dict[str, list[float]] = {source: [] for source in estimators}
    try:
        for frame in _frames(size, count, 2000):
            for source, estimator in estimators.items():
                out = estimator.process(frame.image, frame.intrinsics, frame.timestamp)
                if out.motion is not None:
                    totals[source].append(out.timings['total'])
    finally:
        HybridMotion.step = original
    network, hybrid = (float(np.median(totals[s])) for s in ('network', 'hybrid'))
    paired = np.median(np.subtract(totals['hybrid'], totals['network']))
    return {'network_ms': network, 'hybrid_ms': hybrid, 'extra_ms': float(paired),
            'ratio': hybrid / network, 'hybrid_step_ms': float(np.median(step_ms[1:])),
            'frames': len(totals['hybrid']),
            'counts': estimators['hybrid'].motion_counts}


def standing(weights: str | None, size: tuple[int, int], count: int) -> dict[str, float]:
    frames = _frames(size, count, 2900, motion='static')
    result = {}
    for source in ('network', 'hybrid'):
        estimator = Estimator(weights, device='cpu', motion_source=source)
        steps = []
        for frame in frames:
            out = estimator.process(frame.image, frame.intrinsics, frame.timestamp)
            if out.motion is not None:
                steps.append(float(np.linalg.norm(out.motion[:3, 3])))
        result[source] = {'median_step': float(np.median(steps)), 'max_step': max(steps),
                          'counts': estimator.motion_counts}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--weights', help='weights file (default: the shipped weights)')
    parser.add_argument('--frames', type=int, default=30)
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    parser.add_argument('--size', default='640x192', help='input image WIDTHxHEIGHT')
    parser.add_argument('--json', help='also write the numbers here')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    size = tuple(int(v) for v in args.size.lower().split('x'))
    result = {'size': args.size, 'threads': args.threads,
              'cost': cost(args.weights, size, args.frames),
              'standing': standing(args.weights, size, min(args.frames, 20))}
    c = result['cost']
    print(f"input {args.size}, {c['frames']} frames, {args.threads} torch thread(s): "
          f"network {c['network_ms']:.1f} ms/frame, hybrid {c['hybrid_ms']:.1f} ms/frame, "
          f"extra {c['extra_ms']:.1f} ms (x{c['ratio']:.2f}); hybrid step alone "
          f"{c['hybrid_step_ms']:.1f} ms; hybrid frames: {c['counts']}")
    for source, row in result['standing'].items():
        print(f"standing camera, {source}: translation per frame median {row['median_step']:.4f}"
              f", max {row['max_step']:.4f} model units; {row['counts'] or ''}")
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(result, handle, indent=2)


if __name__ == '__main__':
    main()
