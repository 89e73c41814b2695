"""The training objective: all loss terms of one batch from the networks' outputs (spec 4.2).

L = mean over scales of [photometric min-reprojection + 1e-3 / 2^s * smoothness]
    + object-motion regularisation + optional cycle consistency.

Losses are computed in float32 on the *un-augmented* frames (colour jitter only changes what the
networks see), each depth scale upsampled to full resolution before warping (Monodepth2).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
import torch.nn.functional as F

from rmdepth_ros.model.depth_net import disp_to_depth
from rmdepth_ros.model.geometry import warp
from rmdepth_training.config import LossConfig
from rmdepth_training.cycle import cycle_losses
from rmdepth_training.object_motion_reg import outlier_aware_loss, sparsity_loss
from rmdepth_training.photometric import (
    AUTOMASK_NOISE,
    masked_error,
    min_reprojection,
    photometric_error,
    tie_noise,
)
from rmdepth_training.smoothness import disparity_smoothness


@dataclass
class LossResult:
    """total: the scalar to minimise; parts: detached scalars for logging; visuals: detached
    full-resolution maps of scale 0 for image panels ('reprojection' (B, 1, H, W) per-pixel
    minimum error, 'automask' (B, 1, H, W) float, 1 where the pixel counted)."""

    total: Tensor
    parts: dict[str, Tensor]
    visuals: dict[str, Tensor]


def object_motion_scale(step: int, burn_in: int, ramp: int) -> float:
    """MotionNet's object_motion_scale at `step`: 0 for `burn_in` steps, then linear to 1."""
    if step < burn_in:
        return 0.0
    if ramp <= 0:
        return 1.0
    return min(1.0, (step - burn_in + 1) / ramp)


def compute_losses(outputs: dict, images: Tensor, K: Tensor, cfg: LossConfig,
                   min_depth: float, max_depth: float, motion_scale: float,
                   sample_index: Tensor | None = None) -> LossResult:
    """All loss terms for one batch.

    outputs: `TrainingModel.forward`'s dict. images: (B, F, 3, H, W) un-augmented frames in
    [0, 1], target at F // 2 (flipped like the network inputs). K: (B, 3, 3) pixels.
    min_depth, max_depth: metres, the model's disparity range. motion_scale: the object-motion
    ramp value used in the forward pass (0 disables the object-motion regulariser).
    sample_index: (B,) global sample numbers (batch key 'index'); they seed the auto-masking
    tie-break noise per sample, which makes DDP and resumed runs match a single straight run.
    None draws the noise from the global RNG.
    """
    frames = images.shape[1]
    target_index = frames // 2
    target = images[:, target_index].float()
    sources = [images[:, i].float() for i in range(frames) if i != target_index]
    T = outputs['T'].float()  # (B, S, 4, 4)
    object_motion = outputs['object_motion'].float()  # (B, S, 3, H, W)
    K = K.float()
    height, width = target.shape[-2:]
    use_object = motion_scale > 0
    # Sources whose object-motion field was predicted (with temporal order: earlier ones).
    has_field = outputs.get('object_motion_valid', torch.ones(len(sources), dtype=torch.bool))
    with_object = [use_object and bool(has_field[i]) for i in range(len(sources))]

    identity = ([photometric_error(src, target) for src in sources] if cfg.automask else None)
    noise = (tie_noise(sample_index, (len(sources), height, width), device=target.device)
             if cfg.automask and sample_index is not None else AUTOMASK_NOISE)
    parts: dict[str, Tensor] = {}
    total = target.new_zeros(())
    photometric_total = target.new_zeros(())
    smooth_total = target.new_zeros(())
    visuals: dict[str, Tensor] = {}
    full_errors: list[Tensor] = []
    depth0 = None
    for scale in range(cfg.scales):
        disp = outputs['disp'][scale].float()  # (B, 1, H / 2^s, W / 2^s)
        disp_full = disp if scale == 0 else F.interpolate(
            disp, size=(height, width), mode='bilinear', align_corners=False)
        _, depth = disp_to_depth(disp_full, min_depth, max_depth)
        reprojection = []
        for i, source in enumerate(sources):
            motion = object_motion[:, i] if with_object[i] else None
            warped, valid = warp(source, depth, K, T[:, i], motion)
            error = photometric_error(warped, target)
            if scale == 0:
                full_errors.append(error)
            reprojection.append(masked_error(error, valid))
        photometric, best, mask = min_reprojection(reprojection, identity, noise)
        if scale == 0:
            depth0 = depth
            visuals = {'reprojection': best.detach(), 'automask': mask.detach().float()}
        small_target = target if scale == 0 else F.interpolate(
            target, size=disp.shape[-2:], mode='area')
        smooth = disparity_smoothness(disp, small_target)
        photometric_total = photometric_total + photometric / cfg.scales
        smooth_total = smooth_total + smooth / (2 ** scale) / cfg.scales
    total = photometric_total + cfg.smoothness_weight * smooth_total
    parts['photometric'] = photometric_total.detach()
    parts['smoothness'] = smooth_total.detach()

    regularised = [i for i in range(len(sources)) if with_object[i]]
    if regularised and cfg.object_reg != 'none':
        reg_total = target.new_zeros(())
        for i in regularised:
            if cfg.object_reg == 'outlier_aware':
                with torch.no_grad():
                    rigid_warp, _ = warp(sources[i], depth0, K, T[:, i])
                    rigid_error = photometric_error(rigid_warp, target)
                reg, reg_parts = outlier_aware_loss(
                    object_motion[:, i], rigid_error, full_errors[i], depth0, target,
                    cfg.object_reg_weight, cfg.object_tv_weight, cfg.object_reg_margin,
                    cfg.object_reg_eps)
                for key, value in reg_parts.items():
                    parts[key] = parts.get(key, 0) + value / len(regularised)
            else:
                reg = cfg.object_reg_weight * sparsity_loss(object_motion[:, i])
            reg_total = reg_total + reg / len(regularised)
        total = total + reg_total
        parts['object_reg'] = reg_total.detach()

    if 'T_back' in outputs:
        rotation, translation = cycle_losses(T.flatten(0, 1), outputs['T_back'].float()
                                             .flatten(0, 1))
        total = total + (cfg.cycle_rotation_weight * rotation
                         + cfg.cycle_translation_weight * translation)
        parts['cycle_rotation'] = rotation.detach()
        parts['cycle_translation'] = translation.detach()
    parts['loss'] = total.detach()
    return LossResult(total=total, parts=parts, visuals=visuals)
