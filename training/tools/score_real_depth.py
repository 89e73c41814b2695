#!/usr/bin/env python3
"""Real-depth yardstick for comparing weights files: KITTI 00 stereo and the DDAD sample.

KITTI odometry 00 frames 0-99 (validation only) against the stereo pseudo-depth in
depth_stereo/ (uint16 / 256 m, 0 = invalid, cap 80 m), run as a video; DDAD sample images
against LiDAR depth (cap 200 m, ego body masked), one frame at a time. Median-scaled AbsRel per
frame, averaged, beside the constant-map and flat-ground baselines on the same pixels. Prints
one JSON line per weights file (and one for the baselines).

    python training/tools/score_real_depth.py rmdepth_ros/weights/rmdepth_default.safetensors \
        runs/a/w.safetensors [--frames 100] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from rmdepth_ros.evaluation.baselines.depth import constant_depth, ground_plane_depth
from rmdepth_ros.evaluation.metrics import depth_metrics

DATA = Path(__file__).resolve().parents[3] / 'shared' / 'data'


def kitti_frames(data: Path, count: int):
    """(image, intrinsics, timestamp, stereo depth) of KITTI 00 frames 0 ... count - 1."""
    from rmdepth_ros.datasets.kitti import KittiOdometrySequence

    root = data / 'kitti_odometry_00'
    sequence = KittiOdometrySequence(root)
    for i in range(min(count, len(sequence))):
        frame = sequence[i]
        raw = cv2.imread(str(root / 'depth_stereo' / f'{i:06d}.png'), cv2.IMREAD_UNCHANGED)
        depth = raw.astype(np.float32) / 256.0
        depth[raw == 0] = np.nan
        yield frame.image, frame.intrinsics, frame.timestamp, depth


def ddad_frames(data: Path):
    from rmdepth_ros.datasets.depth_folder import DepthFolderSequence

    sequence = DepthFolderSequence(data / 'ddad_sample', body_mask='auto')
    for i in range(len(sequence)):
        frame = sequence[i]
        yield frame.image, frame.intrinsics, frame.timestamp, frame.depth


SETS = {'kitti00_stereo': (80.0, 1.65, False), 'ddad': (200.0, 1.5, True)}


def score(weights: str | None, data: Path, frames: int) -> dict:
    """{set: {model, constant, flat_ground}} mean AbsRel (baselines on the model's pixels)."""
    from rmdepth_ros.inference import Estimator

    # the network's own depth: one frame at a time, no motion (depth_source 'network')
    estimator = Estimator(weights, device='cpu', depth_source='network') if weights else None
    result = {}
    for key, (cap, height, per_frame) in SETS.items():
        rows = {'model': [], 'constant': [], 'flat_ground': []}
        source = kitti_frames(data, frames) if key.startswith('kitti') else ddad_frames(data)
        for image, k, stamp, gt in source:
            if per_frame:
                estimator.reset('per-frame set')
            out = estimator.process(image, k, stamp, compute_motion=False)
            pred = out.depth
            gt_here = np.where(np.isfinite(pred), gt, np.nan)  # the same pixels for all
            for name, guess in (('model', pred),
                                ('constant', constant_depth(gt.shape)),
                                ('flat_ground', ground_plane_depth(gt.shape, k, height))):
                m = depth_metrics(np.nan_to_num(gt_here, nan=0.0), guess, max_depth=cap)
                if m is not None:
                    rows[name].append(m['abs_rel'])
        result[key] = {name: round(float(np.mean(v)), 4) for name, v in rows.items() if v}
        result[key]['frames'] = len(rows['model'])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('weights', nargs='+')
    parser.add_argument('--frames', type=int, default=100, help='KITTI 00 frames from 0')
    parser.add_argument('--data', default=str(DATA))
    args = parser.parse_args()
    import torch
    torch.set_num_threads(1)
    for weights in args.weights:
        print(json.dumps({'weights': weights, **score(weights, Path(args.data), args.frames)}),
              flush=True)


if __name__ == '__main__':
    main()
