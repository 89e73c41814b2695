#!/usr/bin/env python3
"""Synthetic-world benchmark: frames per second of SyntheticSequence at 640x192 and 320x96.

For each look of the world ('classic', 'photo'; --looks) generates N frames per size in order
(every frame with image, depth, pose, flow, validity, motion mask and object motion) after one
warm-up frame, and a few frames in random order at the first size (random access renders the
previous frame's depth again). Reports frames per second
of wall-clock time and of process CPU time (all threads); on a machine shared with other work
the CPU figure is the stable one. Prints a table, or with --json one JSON line.

    python bench/bench_synth.py                  # 100 frames per size, 1 thread
    python bench/bench_synth.py --threads 2 --json
    python bench/bench_synth.py --looks photo
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import cv2
import numpy as np

from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

SIZES = ((640, 192), (320, 96))


def frames_per_second(width: int, height: int, frames: int, seed: int,
                      random_order: bool = False, look: str = 'classic') -> tuple[float, float]:
    """Generation rate over `frames` frames after one warm-up frame: frames per second of wall
    time and of process CPU time."""
    sequence = SyntheticSequence(SynthConfig(width=width, height=height, frames=frames + 1,
                                             seed=seed, look=look))
    if random_order:
        order = np.random.default_rng(seed).permutation(np.arange(1, frames + 1))
        sequence[0]
        start, cpu = time.perf_counter(), time.process_time()
        for i in order:
            sequence[int(i)]
    else:
        frames_iter = iter(sequence)
        next(frames_iter)
        start, cpu = time.perf_counter(), time.process_time()
        for _ in frames_iter:
            pass
    return (frames / (time.perf_counter() - start), frames / (time.process_time() - cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=100, help='frames per size')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=1,
                        help='OpenCV threads (the numpy parts run on one thread)')
    parser.add_argument('--json', action='store_true', help='print one JSON line')
    parser.add_argument('--looks', nargs='+', choices=('classic', 'photo'),
                        default=['classic', 'photo'], help='looks of the world to time')
    args = parser.parse_args()
    if args.frames < 1:
        parser.error('--frames must be at least 1')
    cv2.setNumThreads(args.threads)
    try:
        import torch  # not used by the generator; pinned so a shared process stays fair
        torch.set_num_threads(args.threads)
    except ImportError:
        pass
    result = {'benchmark': 'synthetic_world', 'frames': args.frames, 'threads': args.threads,
              'cpu': platform.processor() or platform.machine(), 'fps': {}, 'cpu_fps': {}}
    runs = []
    for look in args.looks:
        runs += [(f'{look} {w}x{h}', w, h, False, look) for w, h in SIZES]
        runs.append((f'{look} {SIZES[0][0]}x{SIZES[0][1]} random', *SIZES[0], True, look))
    for name, width, height, random_order, look in runs:
        frames = max(args.frames // 4, 1) if random_order else args.frames
        wall, cpu = frames_per_second(width, height, frames, args.seed, random_order, look)
        result['fps'][name], result['cpu_fps'][name] = round(wall, 2), round(cpu, 2)
    if args.json:
        print(json.dumps(result))
        return
    print(f'synthetic world, {args.frames} frames per size, {args.threads} OpenCV thread(s)')
    print(f'  {"":24} {"wall":>8} {"cpu":>8}   frames/s   {"cpu s/frame":>11}')
    for name in result['fps']:
        print(f'  {name:24} {result["fps"][name]:8.1f} {result["cpu_fps"][name]:8.1f}'
              f'   {1.0 / result["cpu_fps"][name]:20.3f}')


if __name__ == '__main__':
    main()
