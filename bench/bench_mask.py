#!/usr/bin/env python3
"""Moving-object masks through the Estimator: fraction of pixels marked, IoU with the truth.

On synthetic sequences without moving objects (should mark ~nothing), with the default traffic
(IoU against the exact motion_mask), on a black image, and on KITTI odometry 00 (gray; static
apart from a few cars), with the shipped weights unless --weights.

    python bench/bench_mask.py [--weights FILE] [--kitti-frames 60]
"""

from __future__ import annotations

import argparse
from pathlib import Path
import warnings

import numpy as np

from rmdepth_ros.inference import Estimator
from rmdepth_ros.open_sequence import open_sequence
from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

KITTI_00 = Path(__file__).resolve().parents[1].parent / 'shared' / 'data' / 'kitti_odometry_00'
SEEDS = range(2000, 2006)


def _run(est: Estimator, images: list, k: np.ndarray, truth: list | None = None):
    """Mean and worst fraction marked over frames with a mask; IoU summed over frames."""
    est.reset()
    fractions, inter, union = [], 0, 0
    for i, image in enumerate(images):
        mask = est.process(image, k, 0.1 * i).motion_mask
        if mask is None:
            continue
        fractions.append(mask.mean())
        if truth is not None:
            inter += int((mask & truth[i]).sum())
            union += int((mask | truth[i]).sum())
    return float(np.mean(fractions)), float(np.max(fractions)), inter, union


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--weights', default=None)
    parser.add_argument('--kitti-frames', type=int, default=60)
    args = parser.parse_args()
    est = Estimator(args.weights, device='cpu')
    warnings.simplefilter('ignore', RuntimeWarning)
    for name, extra in (('synthetic, no moving objects', {'moving_cars_per_100m': 0.0,
                                                          'pedestrians_per_100m': 0.0}),
                        ('synthetic, default traffic', {})):
        rows = []
        for seed in SEEDS:
            seq = SyntheticSequence(SynthConfig(frames=10, seed=seed, **extra))
            frames = list(seq)
            rows.append(_run(est, [f.image for f in frames], seq.intrinsics,
                             [f.motion_mask for f in frames]))
        inter, union = sum(r[2] for r in rows), sum(r[3] for r in rows)
        iou = f', IoU with the truth {inter / union:.3f}' if 'traffic' in name else ''
        print(f'{name}: {100 * np.mean([r[0] for r in rows]):.2f} % marked (worst frame '
              f'{100 * max(r[1] for r in rows):.1f} %){iou}  [{len(SEEDS)} x 10 frames, 640x192]')
    mean, worst, _, _ = _run(est, [np.zeros((192, 640, 3), np.uint8)] * 6,
                             SynthConfig().intrinsics)
    print(f'black image: {100 * mean:.2f} % marked (worst {100 * worst:.1f} %)')
    if KITTI_00.is_dir():
        seq = open_sequence(KITTI_00)
        count = min(args.kitti_frames, len(seq))
        mean, worst, _, _ = _run(est, [seq[i].image for i in range(count)], seq[0].intrinsics)
        print(f'KITTI odometry 00 frames 0-{count - 1} (gray): {100 * mean:.2f} % marked '
              f'(worst {100 * worst:.1f} %)')
    else:
        print(f'KITTI odometry 00: {KITTI_00} not found, skipped')


if __name__ == '__main__':
    main()
