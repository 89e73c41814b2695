"""Evaluation through the shipped inference path (`rmdepth_ros.inference.Estimator`).

Used by the per-epoch validation (held-out synthetic sequences) and by `evaluate_synthetic.py`
(synthetic metrics, where the depth error is, and the 5-frame-snippet ATE on a KITTI odometry
sequence).
"""

from __future__ import annotations

import numpy as np

from rmdepth_ros.datasets.sequence import Sequence
from rmdepth_ros.evaluation.baselines.classical_vo import TwoViewVO
from rmdepth_ros.evaluation.baselines.motion import straight_ahead, zero_motion
from rmdepth_ros.evaluation.baselines.runner import BaselineRunner
from rmdepth_ros.evaluation.metrics import (
    depth_metrics,
    flow_epe,
    mask_counts,
    mean_metrics,
    motion_errors,
    scaled_depth_pixels,
    snippet_ate,
)
from rmdepth_ros.evaluation.prediction import PoseIntegrator, prediction_from_output
from rmdepth_ros.evaluation.scoring import Scorer
from rmdepth_ros.evaluation.skill import average_rows, compare, skill
from rmdepth_ros.inference import Estimator

DEPTH_BINS = (0.0, 5.0, 10.0, 20.0, 40.0, 80.0)  # metres, ground truth


def evaluate_sequences(estimator: Estimator, sequences: list[Sequence],
                       motion: bool = True, breakdown: AbsRelBreakdown | None = None,
                       baselines: bool = True, comparison: list | None = None
                       ) -> dict[str, float]:
    """Mean metrics over every frame of sequences with ground truth (the synthetic world).

    Depth: median-scaled metrics per image, averaged over images (`metrics.depth_metrics`);
    with `breakdown`, every frame's depth is also added to it (same pass, no second inference).
    With motion=True, for every frame after the first: camera-motion errors of T_prev_cur,
    flow EPE (pixels at the estimator's output size) against the exact flow on flow_valid
    pixels, and the moving-object IoU accumulated over all frames (intersection / union).
    With baselines, every baseline (`rmdepth_ros.evaluation.baselines`) is scored on the same
    frames and pixels as the system by the report's Scorer, per sequence, and the result gets
    flat keys '<baseline>_<metric>' (the baseline's error, averaged over sequences) and
    'skill_<metric>_vs_<baseline>' (system / baseline, < 1 = better); the averaged comparison
    rows (`skill.compare`) are appended to `comparison` when given.
    """
    depth_rows, motion_rows, epes, compared = [], [], [], []
    intersection = union = 0
    for sequence in sequences:
        estimator.reset('new sequence')
        previous_pose = None
        scorer, runner, poses = Scorer(), BaselineRunner(), PoseIntegrator()
        for index, frame in enumerate(sequence):
            out = estimator.process(frame.image, frame.intrinsics, frame.timestamp,
                                    compute_motion=motion)
            row = depth_metrics(frame.depth, out.depth)
            if row is not None:
                depth_rows.append(row)
            if breakdown is not None:
                breakdown.add(frame.depth, out.depth, frame.motion_mask)
            if out.motion is not None and frame.pose is not None and previous_pose is not None:
                truth = np.linalg.inv(previous_pose) @ frame.pose  # T_prev_cur
                motion_rows.append(motion_errors(out.motion, truth))
            if out.flow is not None and frame.flow is not None:
                valid = frame.flow_valid if frame.flow_valid is not None else np.ones(
                    frame.flow.shape[:2], bool)
                epe = flow_epe(out.flow, frame.flow, valid)
                if epe is not None:
                    epes.append(epe)
            if out.motion_mask is not None and frame.motion_mask is not None:
                inter, uni = mask_counts(out.motion_mask, frame.motion_mask)
                intersection, union = intersection + inter, union + uni
            previous_pose = frame.pose
            if baselines:
                pred = prediction_from_output(index, 0, out, poses)
                scorer.add(frame, pred)
                runner.add(frame, pred)
        if baselines:
            compared.append(compare(scorer.summary(), runner.summary()))
    result = mean_metrics(depth_rows)
    result.update(mean_metrics(motion_rows))
    if epes:
        result['flow_epe'] = float(np.mean(epes))
    if union:
        result['mask_iou'] = intersection / union
    result['images'] = float(len(depth_rows))
    rows = average_rows(compared)
    for row in rows:
        result[f"{row['baseline']}_{row['metric']}"] = row['value']
        result[f"skill_{row['metric']}_vs_{row['baseline']}"] = row['skill']
    if comparison is not None:
        comparison.extend(rows)
    return result


class AbsRelBreakdown:
    """Where the depth error is: AbsRel pooled over the pixels of each group.

    `add` takes one image (gt, pred, optional motion mask): pred median-scaled and clamped as in
    `metrics.depth_metrics` (valid: gt in (1e-3, bins[-1]) m). Groups: ground-truth depth bins
    ('0-5m', ...) and, on images with a motion mask, 'moving' and 'static' pixels. `result()`:
    'abs_rel_<group>' and 'share_<group>' (the group's fraction of all valid pixels) for every
    group with pixels. Pixel-pooled, so not the per-image mean AbsRel of `evaluate_sequences`.
    """

    def __init__(self, bins: tuple[float, ...] = DEPTH_BINS) -> None:
        self.bins = tuple(bins)
        self.names = [f'{lo:g}-{hi:g}m' for lo, hi in zip(bins[:-1], bins[1:], strict=True)]
        self.sums = dict.fromkeys([*self.names, 'moving', 'static'], 0.0)
        self.counts = dict.fromkeys(self.sums, 0)

    def add(self, gt: np.ndarray, pred: np.ndarray, motion_mask: np.ndarray | None) -> None:
        scaled = scaled_depth_pixels(gt, pred, max_depth=self.bins[-1])
        if scaled is None:
            return
        g, p, valid = scaled
        rel = np.abs(p - g) / g
        groups = {name: (g >= lo) & (g < hi)
                  for name, lo, hi in zip(self.names, self.bins[:-1], self.bins[1:],
                                          strict=True)}
        if motion_mask is not None:
            moving = motion_mask.astype(bool)[valid]
            groups.update(moving=moving, static=~moving)
        for name, members in groups.items():
            self.sums[name] += float(rel[members].sum())
            self.counts[name] += int(members.sum())

    def result(self) -> dict[str, float]:
        total = sum(self.counts[name] for name in self.names)
        result = {}
        for name, count in self.counts.items():
            if count:
                result[f'abs_rel_{name}'] = self.sums[name] / count
                result[f'share_{name}'] = count / total
        return result


def kitti_snippet_ate(estimator: Estimator, sequence: Sequence, snippet: int = 5
                      ) -> dict[str, float]:
    """5-frame-snippet ATE (Zhou et al. protocol as implemented by Monodepth2) on a sequence
    with poses, e.g. `KittiOdometrySequence`.

    Each snippet's trajectory is composed from the estimator's 4 pairwise motions T_prev_cur,
    compared with the ground-truth poses relative to the snippet's first frame after shifting
    and least-squares scaling (`metrics.snippet_ate`). Returns mean and std over snippets (m),
    and the same mean for zero motion, straight ahead and classical two-view VO on the same
    frames ('<baseline>_ate_mean') with the skill ('skill_vs_<baseline>', < 1 = better).
    """
    estimator.reset('new sequence')
    vo = TwoViewVO()
    methods: dict[str, list] = {name: [] for name in ('system', 'zero_motion', 'straight_ahead',
                                                       'classical_vo')}
    poses = []
    for frame in sequence:
        out = estimator.process(frame.image, frame.intrinsics, frame.timestamp)
        step = vo.step(frame.image, frame.intrinsics)
        if out.motion is not None:  # motions[i] = T_{i, i+1} (pose of frame i+1 in frame i)
            methods['system'].append(out.motion)
            methods['zero_motion'].append(zero_motion())
            methods['straight_ahead'].append(straight_ahead())
            methods['classical_vo'].append(zero_motion() if step is None else step)
        poses.append(frame.pose)
    means = {}
    for name, motions in methods.items():
        errors = []
        for start in range(len(poses) - snippet + 1):
            pred = [np.eye(4)]
            for i in range(start, start + snippet - 1):
                pred.append(pred[-1] @ motions[i])
            first = np.linalg.inv(poses[start])
            gt = np.stack([(first @ poses[start + j])[:3, 3] for j in range(snippet)])
            errors.append(snippet_ate(gt, np.stack([p[:3, 3] for p in pred])))
        means[name] = (float(np.mean(errors)), float(np.std(errors)), len(errors))
    mean, std, count = means.pop('system')
    result = {'ate_mean': mean, 'ate_std': std, 'snippets': float(count)}
    for name, (value, _, _) in means.items():
        result[f'{name}_ate_mean'] = value
        result[f'skill_vs_{name}'] = skill(mean, value)
    return result
