"""Outlier-aware regularisation of the object-motion field T_obj (spec 3.5, proposed default).

RM-Depth's Eq. 12/13 are not public. The spec's proposed form, implemented here:

1. e_rig: photometric error of the source warped with camera motion only; e_full: the same with
   camera motion plus T_obj.
2. Outlier (moving) indicator, Eq. 12 analogue: omega = 1[e_rig - e_full > delta] with
   delta = `margin` * mean(e_rig) per image. Pixels where object motion clearly explains the
   data better than the camera does are "outliers" of the rigid model and are exempt.
3. Rigid-region suppression, Eq. 13 analogue: mean (1 - omega) rho(|T_obj| / s), with rho the
   Charbonnier penalty sqrt(r^2 + eps^2) - eps and s the image's mean depth, so that the loss
   does not depend on the unknown global scale of self-supervised depth.
4. Piece-wise smoothness: edge-aware first-order TV of T_obj / s.

omega and s are computed under stop-gradient: the regulariser must shrink T_obj, not move the
depth or the camera motion to change its own weights. Unlike Li et al.'s L1/2 sparsity, nothing
pulls down the motion of pixels that object motion explains, which is what the spec's Table 6
ordering (sparsity loss worse than no regulariser) asks for.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rmdepth_training.smoothness import edge_aware_smoothness


def outlier_mask(rigid_error: Tensor, full_error: Tensor, margin: float = 0.01) -> Tensor:
    """omega (B, 1, H, W) float in {0, 1}: 1 where T_obj lowers the error by more than delta.

    rigid_error, full_error: (B, 1, H, W) photometric errors (camera-only / full warp).
    delta = margin * mean(rigid_error) per image. No gradient flows through omega.
    """
    rigid_error, full_error = rigid_error.detach(), full_error.detach()
    delta = margin * rigid_error.mean(dim=(1, 2, 3), keepdim=True)
    return (rigid_error - full_error > delta).to(rigid_error.dtype)


def charbonnier(r: Tensor, eps: float = 1e-3) -> Tensor:
    """sqrt(r^2 + eps^2) - eps: zero at zero, smooth there, and L1-like (robust) for |r| >> eps."""
    return (r * r + eps * eps).sqrt() - eps


def motion_scale(depth: Tensor) -> Tensor:
    """Per-image normaliser s (B, 1, 1, 1): mean depth (metres, model scale), no gradient."""
    return depth.detach().mean(dim=(1, 2, 3), keepdim=True).clamp(min=1e-3)


def rigid_suppression(object_motion: Tensor, omega: Tensor, scale: Tensor,
                      eps: float = 1e-3) -> Tensor:
    """Eq. 13 analogue: mean over pixels of (1 - omega) rho(|T_obj| / s), per image then batch.

    object_motion: (B, 3, H, W) metres; omega: (B, 1, H, W); scale: (B, 1, 1, 1) metres.
    Zero for a zero field; positive for any motion in pixels with omega = 0.
    """
    # The norm's gradient is undefined at exactly zero; add a tiny floor inside the sqrt.
    norm = (object_motion.pow(2).sum(1, keepdim=True) + 1e-12).sqrt() / scale  # (B, 1, H, W)
    return ((1 - omega) * charbonnier(norm, eps)).mean(dim=(1, 2, 3)).mean()


def motion_smoothness(object_motion: Tensor, image: Tensor, scale: Tensor) -> Tensor:
    """Edge-aware TV of T_obj / s; object_motion (B, 3, H, W), image (B, 3, H, W)."""
    return edge_aware_smoothness(object_motion / scale, image)


def outlier_aware_loss(object_motion: Tensor, rigid_error: Tensor, full_error: Tensor,
                       depth: Tensor, image: Tensor, suppression_weight: float,
                       smoothness_weight: float, margin: float = 0.01, eps: float = 1e-3
                       ) -> tuple[Tensor, dict[str, Tensor]]:
    """Weighted sum of rigid-region suppression and TV for one source frame.

    Returns (loss, parts) with parts 'oar_suppression', 'oar_tv' (unweighted, detached) and
    'outlier_fraction' (share of pixels with omega = 1).
    """
    omega = outlier_mask(rigid_error, full_error, margin)
    scale = motion_scale(depth)
    suppression = rigid_suppression(object_motion, omega, scale, eps)
    tv = motion_smoothness(object_motion, image, scale)
    loss = suppression_weight * suppression + smoothness_weight * tv
    parts = {'oar_suppression': suppression.detach(), 'oar_tv': tv.detach(),
             'outlier_fraction': omega.mean().detach()}
    return loss, parts


def sparsity_loss(object_motion: Tensor) -> Tensor:
    """Li et al. (2020) L1/2 sparsity on T_obj normalised by its per-image RMS (ablation only).

    mean 2 m sqrt(1 + |T|/m) - 2 m, with m the per-image mean |T| per channel (stop-gradient);
    the spec's Table 6 reports this as worse than no regulariser, kept to reproduce that row.
    """
    abs_motion = object_motion.abs()
    mean = abs_motion.mean(dim=(2, 3), keepdim=True).detach() + 1e-12
    return (2 * mean * (torch.sqrt(1 + abs_motion / mean) - 1)).mean(dim=(1, 2, 3)).mean()
