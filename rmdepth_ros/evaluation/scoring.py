"""Score predictions against whatever ground truth the frames carry, frame by frame.

`Scorer.add(frame, prediction)` keeps per-frame numbers (and the poses) only, so long runs do
not hold every image. `Scorer.summary()` returns the metrics plus `skipped`: for every metric
family that could not be computed, the reason in words (no ground truth, no output, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rmdepth_ros.datasets.sequence import Frame
from rmdepth_ros.evaluation.metrics import (
    DEPTH_METRICS,
    depth_metrics,
    depth_valid,
    flow_metrics,
    mask_counts,
    mean_metrics,
    median_scale,
)
from rmdepth_ros.evaluation.prediction import Prediction
from rmdepth_ros.evaluation.timing import latency_summary
from rmdepth_ros.evaluation.trajectory import ate, rpe, trajectory_snippet_ate, yaw_sums


@dataclass
class ScoreOptions:
    """min_depth / max_depth: metres (the cap); crop: None, 'garg' or 'eigen'."""

    min_depth: float = 1e-3
    max_depth: float = 80.0
    crop: str | None = None


@dataclass
class FrameScore:
    """Per-frame numbers for the plots; NaN where not computed."""

    index: int
    timestamp: float
    abs_rel: float = float('nan')
    abs_rel_unscaled: float = float('nan')
    flow_epe: float = float('nan')
    mask_iou: float = float('nan')
    latency_ms: float = float('nan')


@dataclass
class Scorer:
    options: ScoreOptions = field(default_factory=ScoreOptions)
    frames: list[FrameScore] = field(default_factory=list)
    inputs: int = 0
    outputs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ('depth', 'flow', 'motion_mask', 'pose'), 0))
    have_gt: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ('depth', 'flow', 'motion_mask', 'pose'), 0))
    _scaled: list = field(default_factory=list)
    _unscaled: list = field(default_factory=list)
    _scales: list = field(default_factory=list)
    _flow: list = field(default_factory=list)
    _mask: list = field(default_factory=lambda: [0, 0])
    _moving: list = field(default_factory=list)  # fraction marked moving, every scored frame
    _static_moving: list = field(default_factory=list)  # the same, frames where nothing moves
    _poses: list = field(default_factory=list)  # (gt 4x4, pred 4x4)
    _latency: list = field(default_factory=list)

    def add(self, frame: Frame, pred: Prediction | None) -> FrameScore:
        """Score one input frame; pred None = the system produced nothing for it."""
        self.inputs += 1
        score = FrameScore(frame.index, frame.timestamp)
        self.frames.append(score)
        for name, value in (('depth', frame.depth), ('flow', frame.flow),
                            ('motion_mask', frame.motion_mask), ('pose', frame.pose)):
            self.have_gt[name] += value is not None
        if pred is None:
            return score
        for name in self.outputs:
            self.outputs[name] += getattr(pred, name) is not None
        if pred.latency_ms is not None:
            score.latency_ms = pred.latency_ms
            self._latency.append(pred.latency_ms)
        opt = self.options
        if frame.depth is not None and pred.depth is not None:
            scaled = depth_metrics(frame.depth, pred.depth, opt.min_depth, opt.max_depth,
                                   True, opt.crop)
            if scaled is not None:
                self._scaled.append(scaled)
                self._unscaled.append(depth_metrics(frame.depth, pred.depth, opt.min_depth,
                                                    opt.max_depth, False, opt.crop))
                self._scales.append(median_scale(frame.depth, pred.depth, depth_valid(
                    frame.depth, pred.depth, opt.min_depth, opt.max_depth, opt.crop)))
                score.abs_rel = scaled['abs_rel']
                score.abs_rel_unscaled = self._unscaled[-1]['abs_rel']
        if frame.flow is not None and pred.flow is not None:
            row = flow_metrics(pred.flow, frame.flow, frame.flow_valid)
            if row is not None:
                self._flow.append(row)
                score.flow_epe = row['epe']
        if frame.motion_mask is not None and pred.motion_mask is not None:
            inter, union = mask_counts(pred.motion_mask, frame.motion_mask)
            self._moving.append(float(np.mean(pred.motion_mask)))
            if not np.any(frame.motion_mask):
                self._static_moving.append(self._moving[-1])
            self._mask[0] += inter
            self._mask[1] += union
            if union:
                score.mask_iou = inter / union
        if frame.pose is not None and pred.pose is not None:
            self._poses.append((np.asarray(frame.pose), np.asarray(pred.pose)))
        return score

    def trajectories(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(gt, pred) (N, 4, 4) poses of the frames that have both, or None."""
        if not self._poses:
            return None
        return (np.stack([g for g, _ in self._poses]), np.stack([p for _, p in self._poses]))

    def summary(self) -> dict:
        """Metrics by family, counts, and `skipped`: family -> reason."""
        result: dict = {'inputs': self.inputs, 'outputs': dict(self.outputs),
                        'ground_truth': dict(self.have_gt), 'skipped': {}}
        skipped = result['skipped']

        def why(kind: str, label: str) -> str:
            if not self.have_gt[kind]:
                return f'no ground-truth {label} in the input'
            if not self.outputs[kind]:
                return f'no {label} output received'
            return f'no frame had both ground-truth and predicted {label} on valid pixels'

        if self._scaled:
            result['depth'] = {'median_scaled': mean_metrics(self._scaled),
                               'unscaled': mean_metrics(self._unscaled),
                               'median_scale': float(np.median(self._scales)),
                               'images': len(self._scaled), 'crop': self.options.crop,
                               'max_depth_m': self.options.max_depth}
        else:
            skipped['depth'] = why('depth', 'depth')
        if self._flow:
            result['flow'] = dict(mean_metrics(self._flow), frames=len(self._flow))
        else:
            skipped['flow'] = why('flow', 'flow')
        if self._moving:
            row = {'iou': self._mask[0] / self._mask[1]} if self._mask[1] else {}
            row.update(moving_fraction=float(np.mean(self._moving)), frames=len(self._moving))
            if self._static_moving:
                row.update(static_frames=len(self._static_moving),
                           moving_fraction_static=float(np.mean(self._static_moving)))
            result['motion_mask'] = row
        else:
            skipped['motion_mask'] = why('motion_mask', 'motion mask')
        self._trajectory_summary(result, why)
        latency = latency_summary(self._latency)
        if latency is not None:
            result['latency'] = latency
        return result

    def _trajectory_summary(self, result: dict, why) -> None:
        pair = self.trajectories()
        if pair is None or len(pair[0]) < 3:
            result['skipped']['trajectory'] = (why('pose', 'pose') if pair is None
                                               else 'fewer than 3 frames with poses')
            return
        gt, pred = pair
        row = ate(gt[:, :3, 3], pred[:, :3, 3], 'sim3')
        moved = float(np.linalg.norm(np.diff(gt[:, :3, 3], axis=0), axis=1).sum())
        row.update(rpe(gt, pred, 1, row['scale']) or {})
        row.update(trajectory_snippet_ate(gt, pred, 5) or {})
        row.update(yaw_sums(gt, pred))
        row['poses'] = len(gt)
        row['gt_length_m'] = moved
        result['trajectory'] = row


__all__ = ['DEPTH_METRICS', 'FrameScore', 'ScoreOptions', 'Scorer']
