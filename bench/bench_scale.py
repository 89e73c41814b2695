#!/usr/bin/env python3
"""Does the camera_height scale mode recover metres? Per-frame ground fits and translation ratio.

Runs the Estimator (shipped weights unless --weights) over a sequence with ground-truth poses and
a `ScaleTracker('camera_height')`, and prints: how many frames gave a ground fit, the per-frame
scale (metres per model unit), the established scale, and the median of (predicted translation
x scale) / true translation per frame, for the per-frame and for the established scale.

    python bench/bench_scale.py                                  # ../shared/data KITTI 00
    python bench/bench_scale.py --sequence synthetic --frames 60 # synthetic world, seed 2000
"""

from __future__ import annotations

import argparse
from pathlib import Path
import warnings

import numpy as np

from rmdepth_ros.inference import Estimator
from rmdepth_ros.open_sequence import open_sequence
from rmdepth_ros.scale import ScaleTracker

KITTI_00 = Path(__file__).resolve().parents[1].parent / 'shared' / 'data' / 'kitti_odometry_00'


def _iqr(values: np.ndarray) -> str:
    return (f'median {np.median(values):.3f} (IQR {np.percentile(values, 25):.3f}-'
            f'{np.percentile(values, 75):.3f}, n={len(values)})')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sequence', default=str(KITTI_00),
                        help="a sequence with poses, or 'synthetic' (default: KITTI 00)")
    parser.add_argument('--frames', type=int, default=200)
    parser.add_argument('--camera-height', type=float, default=1.65, help='metres')
    parser.add_argument('--weights', default=None)
    args = parser.parse_args()
    if args.sequence == 'synthetic':
        from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence
        seq = SyntheticSequence(SynthConfig(frames=args.frames, seed=2000,
                                            camera_height=args.camera_height))
    else:
        seq = open_sequence(args.sequence)
    est = Estimator(args.weights, device='cpu')
    tracker = ScaleTracker('camera_height', camera_height=args.camera_height)
    fits, per_frame, established, prev_pose = [], [], [], None
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        for i in range(min(args.frames, len(seq))):
            frame = seq[i]
            out = est.process(frame.image, frame.intrinsics, i * 0.1)
            state = tracker.update(out.depth, out.intrinsics)
            fit = tracker.last_fit
            fits.append(np.nan if fit is None else args.camera_height / fit.height)
            if out.motion is not None and prev_pose is not None:
                truth = np.linalg.norm((np.linalg.inv(prev_pose) @ frame.pose)[:3, 3])
                pred = np.linalg.norm(out.motion[:3, 3])
                if truth > 0.05 and fit is not None:
                    per_frame.append(pred * fits[-1] / truth)
                if truth > 0.05 and state.established:
                    established.append(pred * state.scale / truth)
            prev_pose = frame.pose
    fits = np.array(fits)
    ok = np.isfinite(fits)
    print(f'{seq.name}: {len(fits)} frames, ground fits on {ok.sum()} '
          f'({100 * ok.mean():.0f} %)')
    if ok.any():
        print(f'  per-frame scale, metres per model unit: {_iqr(fits[ok])}')
    print(f'  final state: {state.status}')
    if per_frame:
        print(f'  translation x per-frame scale / truth: {_iqr(np.array(per_frame))}')
    if established:
        print(f'  translation x established scale / truth: {_iqr(np.array(established))}')
    else:
        print('  translation x established scale / truth: never established')


if __name__ == '__main__':
    main()
