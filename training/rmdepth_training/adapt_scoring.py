"""Scores of adapted weights on real frames with ground truth: depth AbsRel against KITTI-format
depth PNGs (e.g. the stereo depth of KITTI odometry 00) and the 5-frame snippet ATE.

Depth: the depth network's own depth and the estimator's output depth (fused with
depth_source 'fused') at the input resolution, median-scaled per frame, capped at 80 m
(`rmdepth_ros.evaluation.metrics.depth_metrics`), mean over frames. Motion: the pairwise
camera motions composed over every 5-frame window (`trajectory_snippet_ate`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rmdepth_ros.datasets.depth_folder import read_kitti_depth
from rmdepth_ros.datasets.sequence import Sequence
from rmdepth_ros.evaluation.metrics import depth_metrics
from rmdepth_ros.evaluation.trajectory import trajectory_snippet_ate
from rmdepth_ros.inference import Estimator

DEPTH_CAP = 80.0  # metres


def stereo_depth(folder: str | Path, number: int) -> np.ndarray | None:
    """depth_stereo/NNNNNN.png of a KITTI odometry folder as (H, W) metres (NaN = none)."""
    path = Path(folder) / 'depth_stereo' / f'{number:06d}.png'
    return read_kitti_depth(path) if path.is_file() else None


def depth_abs_rel(estimator: Estimator, frames: list, truths: list[np.ndarray]
                  ) -> dict[str, float]:
    """Mean per-frame median-scaled AbsRel of the depth network's own depth ('network') and of
    the estimator's output depth ('output': fused where depth_source is 'fused', and then
    from the second frame on); frames: consecutive sequence Frames, run as a video."""
    network, output = [], []
    estimator.reset('scoring')
    for frame, truth in zip(frames, truths, strict=True):
        out = estimator.process(frame.image, frame.intrinsics, frame.timestamp)
        for values, depth in ((network, out.network_depth), (output, out.depth)):
            row = depth_metrics(truth, depth, max_depth=DEPTH_CAP)
            if row is not None:
                values.append(row['abs_rel'])
    return {'network': float(np.mean(network)), 'output': float(np.mean(output))}


def snippet_ate(motions: list[np.ndarray], poses: list[np.ndarray]) -> float:
    """5-frame snippet ATE (m) of pairwise motions T_prev_cur (len(poses) - 1 of them)."""
    pred = [np.eye(4)]
    for motion in motions:
        pred.append(pred[-1] @ motion)
    return trajectory_snippet_ate(np.stack(poses), np.stack(pred))['snippet_ate_mean']


def kitti_scores(estimator: Estimator, sequence: Sequence, folder: str | Path,
                 depth_frames: range, motion_frames: range | None) -> dict[str, float]:
    """{'abs_rel': the depth network's own depth, 'output_abs_rel': the estimator's output
    depth (fused with depth_source 'fused'), on depth_frames with stereo depth (consecutive
    frames: the fusion needs the camera's motion), 'snippet_ate': over motion_frames (None:
    depth only)}."""
    frames = [sequence[i] for i in depth_frames]
    truths = [stereo_depth(folder, i) for i in depth_frames]
    kept = [(f, t) for f, t in zip(frames, truths, strict=True) if t is not None]
    depth = depth_abs_rel(estimator, [f for f, _ in kept], [t for _, t in kept])
    result = {'abs_rel': depth['network'], 'output_abs_rel': depth['output'],
              'depth_frames': float(len(kept))}
    if motion_frames is None:
        return result
    estimator.reset('scoring')
    motions, poses = [], []
    for i in motion_frames:
        frame = sequence[i]
        out = estimator.process(frame.image, frame.intrinsics, frame.timestamp)
        if out.motion is not None:
            motions.append(out.motion)
        poses.append(frame.pose)
    result['snippet_ate'] = snippet_ate(motions, poses)
    return result
