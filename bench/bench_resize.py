"""Compare the estimator's resize modes (crop / pad / stretch) on the real data in ../shared/data.

    .venv/bin/python bench/bench_resize.py [--data ../shared/data] [--weights FILE]
                                           [--kitti-frames 200] [--only ddad|kitti]
                                           [--json out.json]

DDAD sample (depth): every image on its own (reset, depth only); AbsRel after per-image median
scaling, cap 80 m, on the valid LiDAR pixels off the ego body (`DepthFolderSequence`), mean over
images. 'own' scores each mode on the pixels it estimates (crop leaves the top and bottom out);
'common' scores every mode on the pixels inside the crop window, the same set for all; coverage
is the fraction of LiDAR pixels a mode estimates. The constant map (median of the ground truth)
is the reference. KITTI odometry 00 (camera motion): 5-frame snippet ATE (metres) and RPE
rotation (degrees per frame) of the chained motions.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import time

import numpy as np

from rmdepth_ros.evaluation.metrics import depth_metrics
from rmdepth_ros.evaluation.trajectory import rpe, trajectory_snippet_ate
from rmdepth_ros.inference import Estimator
from rmdepth_ros.open_sequence import open_sequence
from rmdepth_ros.resize import RESIZE_MODES, input_window

DATA = Path(__file__).resolve().parents[2] / 'shared' / 'data'


def _abs_rel(gt: np.ndarray, pred: np.ndarray, keep: np.ndarray) -> float | None:
    gt = np.where(keep, gt, np.nan)
    metrics = depth_metrics(gt, pred, max_depth=80.0)
    return None if metrics is None else metrics['abs_rel']


def ddad(estimators: dict[str, Estimator], root: Path) -> dict[str, dict[str, float]]:
    sequence = open_sequence(root)
    rows: dict[str, dict[str, list[float]]] = {m: {'own': [], 'common': [], 'coverage': []}
                                               for m in [*estimators, 'constant']}
    for i in range(len(sequence)):
        frame = sequence[i]
        height, width = frame.depth.shape
        lidar = np.isfinite(frame.depth) & (frame.depth < 80.0)
        some = next(iter(estimators.values()))
        window = input_window((width, height), some.input_size, 'crop')
        in_crop = np.zeros_like(lidar)
        in_crop[max(0, window.y0):window.y0 + window.height,
                max(0, window.x0):window.x0 + window.width] = True
        predictions = {}
        for mode, estimator in estimators.items():
            estimator.reset()
            predictions[mode] = estimator.process(frame.image, frame.intrinsics, 0.0,
                                                  compute_motion=False).depth
        predictions['constant'] = np.ones_like(frame.depth)
        for mode, pred in predictions.items():
            rows[mode]['own'].append(_abs_rel(frame.depth, pred, lidar))
            rows[mode]['common'].append(_abs_rel(frame.depth, pred, lidar & in_crop))
            rows[mode]['coverage'].append(float((lidar & np.isfinite(pred)).sum() / lidar.sum()))
    return {mode: {key: float(np.mean(values)) for key, values in row.items()}
            for mode, row in rows.items()}


def kitti(estimators: dict[str, Estimator], root: Path, frames: int) -> dict[str, dict]:
    sequence = open_sequence(root)
    count = min(frames, len(sequence))
    gt = np.stack([sequence[i].pose for i in range(count)])
    poses = {mode: [np.eye(4)] for mode in estimators}
    for i in range(count):
        frame = sequence[i]
        for mode, estimator in estimators.items():
            out = estimator.process(frame.image, frame.intrinsics, frame.timestamp)
            if i:
                motion = out.motion if out.motion is not None else np.eye(4)
                poses[mode].append(poses[mode][-1] @ motion)
    result = {}
    for mode, chain in poses.items():
        pred = np.stack(chain)
        result[mode] = {**trajectory_snippet_ate(gt, pred), **rpe(gt, pred)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', type=Path, default=DATA)
    parser.add_argument('--weights')
    parser.add_argument('--kitti-frames', type=int, default=200)
    parser.add_argument('--only', choices=('ddad', 'kitti'))
    parser.add_argument('--json', type=Path)
    args = parser.parse_args()
    start = time.perf_counter()
    estimators = {mode: Estimator(args.weights, device='cpu', resize=mode)
                  for mode in RESIZE_MODES}
    depth = motion = None
    if args.only != 'kitti':
        depth = ddad(estimators, args.data / 'ddad_sample')
        print('DDAD sample, depth AbsRel (median-scaled, cap 80 m, off the ego body)')
        print('| resize | AbsRel own pixels | coverage | AbsRel common (crop window) |')
        print('|---|---|---|---|')
        for mode, row in depth.items():
            print(f"| {mode} | {row['own']:.3f} | {row['coverage']:.2f} | "
                  f"{row['common']:.3f} |")
    if args.only != 'ddad':
        motion = kitti(estimators, args.data / 'kitti_odometry_00', args.kitti_frames)
        print(f'\nKITTI odometry 00, {args.kitti_frames} frames')
        print('| resize | snippet ATE (m) | RPE rot (deg/frame) |')
        print('|---|---|---|')
        for mode, row in motion.items():
            print(f"| {mode} | {row['snippet_ate_mean']:.4f} | {row['rpe_rot_mean']:.3f} |")
    print(f'\n{time.perf_counter() - start:.0f} s')
    if args.json:
        args.json.write_text(json.dumps({'ddad': depth, 'kitti_00': motion}, indent=2))


if __name__ == '__main__':
    main()
