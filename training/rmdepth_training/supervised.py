"""Supervised warm-start losses on the synthetic world's exact ground truth (our addition).

The paper trains self-supervised only. On a CPU budget the motion network trained that way
learns to ignore its input ("always drive straight ahead" is a local optimum of the photometric
loss on forward-driving video), so training can add these terms on samples that carry ground
truth (batch key 'gt_valid' = 1; real video has 0 and only the self-supervised terms):

- depth: scale-invariant log loss (Eigen et al. 2014) on the full-resolution depth;
- camera motion: rotation angle of R_gt^T R_pred (radians) and L1 of the translation (metres),
  for every source;
- optical flow of the earlier source (camera + object motion, through the predicted depth):
  end-point error in pixels where the ground-truth flow is valid;
- object motion: L1 of the per-pixel displacement in the current camera frame (metres).

Batch keys (B samples, S sources, (H, W) the network size; zeros where 'gt_valid' is 0):
'gt_valid' (B,), 'gt_depth' (B, 1, H, W) metres with 0 = no ground truth, 'gt_T' (B, S, 4, 4)
T_s_t, 'gt_flow' (B, 2, H, W) pixels of the earlier source (docs/conventions.md),
'gt_flow_valid' (B, 1, H, W) 1/0, 'gt_object' (B, 3, H, W) metres, current camera frame.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rmdepth_ros.model.geometry import object_motion_to_current_frame, optical_flow
from rmdepth_training.config import LossConfig

SILOG_LAMBDA = 0.85  # variance focus of the scale-invariant log loss (Eigen 2014, BTS)
GT_KEYS = ('gt_valid', 'gt_depth', 'gt_T', 'gt_flow', 'gt_flow_valid', 'gt_object')


def silog_loss(depth: Tensor, truth: Tensor, valid: Tensor) -> Tensor:
    """sqrt(mean(d^2) - lambda mean(d)^2), d = log depth - log truth, per image, then averaged
    over images with any valid pixel. depth, truth (B, 1, H, W) metres; valid (B, 1, H, W) bool."""
    d = torch.where(valid, depth.clamp_min(1e-3).log() - truth.clamp_min(1e-3).log(),
                    torch.zeros_like(depth))
    count = valid.flatten(1).sum(1)  # (B,)
    used = count > 0
    if not used.any():
        return depth.new_zeros(())
    n = count[used].float()
    mean = d.flatten(1)[used].sum(1) / n
    mean_sq = d.flatten(1)[used].pow(2).sum(1) / n
    return (mean_sq - SILOG_LAMBDA * mean.pow(2)).clamp_min(1e-8).sqrt().mean()


def rotation_angle(R_pred: Tensor, R_true: Tensor) -> Tensor:
    """Angle (radians) of R_true^T R_pred, (...); atan2 form, accurate near zero."""
    R = R_true.transpose(-1, -2) @ R_pred
    skew = torch.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0],
                        R[..., 1, 0] - R[..., 0, 1]], -1)
    trace = R[..., 0, 0] + R[..., 1, 1] + R[..., 2, 2]
    return torch.atan2(0.5 * (skew.pow(2).sum(-1) + 1e-12).sqrt(), 0.5 * (trace - 1.0))


def supervised_losses(outputs: dict, batch: dict, K: Tensor, cfg: LossConfig
                      ) -> tuple[Tensor, dict[str, Tensor]]:
    """(weighted sum, detached parts) of the supervised terms; zero when no sample has truth.

    outputs: `TrainingModel.forward`'s dict; batch: the batch with the GT_KEYS on the same
    device; K: (B, 3, 3). The sum is already multiplied by cfg.supervised.
    """
    weight = batch['gt_valid'].float().reshape(-1)  # (B,)
    zero = outputs['depth'].new_zeros(())
    if cfg.supervised <= 0 or not bool((weight > 0).any()):
        return zero, {}
    sel = weight > 0
    depth = outputs['depth'][sel].float()  # (b, 1, H, W)
    T = outputs['T'][sel].float()  # (b, S, 4, 4)
    gt_depth = batch['gt_depth'][sel].float()
    gt_T = batch['gt_T'][sel].float()
    parts: dict[str, Tensor] = {}

    parts['sup_depth'] = silog_loss(depth, gt_depth, gt_depth > 0)
    parts['sup_rotation'] = rotation_angle(T[..., :3, :3], gt_T[..., :3, :3]).mean()
    parts['sup_translation'] = (T[..., :3, 3] - gt_T[..., :3, 3]).abs().sum(-1).mean()

    flow_valid = batch['gt_flow_valid'][sel].float()  # (b, 1, H, W)
    has_flow = flow_valid.flatten(1).sum(1) > 0
    if bool(has_flow.any()) and bool(outputs['object_motion_valid'][0]):
        obj = outputs['object_motion'][sel][:, 0].float()  # (b, 3, H, W), earlier source
        flow, inside = optical_flow(depth, K[sel].float(), T[:, 0], obj)
        mask = flow_valid * inside.float()
        epe = (flow - batch['gt_flow'][sel].float()).pow(2).sum(1, keepdim=True).add(
            1e-9).sqrt()
        parts['sup_flow_epe'] = (epe * mask).sum() / mask.sum().clamp_min(1.0)
        moved = object_motion_to_current_frame(obj, T[:, 0])
        err = (moved - batch['gt_object'][sel].float()).abs().sum(1, keepdim=True)
        parts['sup_object'] = (err * flow_valid).sum() / flow_valid.sum().clamp_min(1.0)
    total = (cfg.sup_depth_weight * parts['sup_depth']
             + cfg.sup_rotation_weight * parts['sup_rotation']
             + cfg.sup_translation_weight * parts['sup_translation']
             + cfg.sup_flow_weight * parts.get('sup_flow_epe', zero)
             + cfg.sup_object_weight * parts.get('sup_object', zero))
    # Scaled by the share of the batch with truth, so a mixed batch weighs them fairly.
    total = cfg.supervised * total * sel.float().mean()
    return total, {k: v.detach() for k, v in parts.items()}
