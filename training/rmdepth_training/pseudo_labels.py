"""Geometry teaches the network: a confidence-weighted depth loss on pseudo-labels.

`rmdepth-train label` writes, for real video, the estimator's fused depth (what the camera's
motion measured, the network's own depth elsewhere), its relative sigma and the moving mask
(`label.py`). Training reads them beside the frames (`data.real_labels`, one label folder per
entry of `data.real_sequences`) as two batch keys at the network size:

    'pl_depth'   (B, 1, H, W) float32 model units of the label, 0 = no label
    'pl_weight'  (B, 1, H, W) float32 per-pixel weight: 1 / (sigma^2 + SIGMA_FLOOR^2), scaled
                 so that a pixel measured to SIGMA_FLOOR weighs 1; 0 on moving pixels, where
                 the label has no depth, and on every pixel of samples without labels

Adaptation takes labels the same way without a label folder: `rmdepth-train adapt` labels its
clips with the starting weights first (`adapt_frames.label_clip`), the node's online
adaptation takes each frame's label from its own estimator (`inference.GeometryLabel`).

The loss is the scale-invariant log loss (Eigen et al. 2014; lambda 1, the weighted variance of
the log ratio) with those weights, per image, so it is blind to the labels' scale (model units
of the labelling run) and pulls the network's shape towards the measured one; pixels the
camera's motion did not measure carry the network's own depth at the prior's (large) sigma,
hence a small weight.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from rmdepth_training.label import read_label
from rmdepth_training.triplets import no_truth

if TYPE_CHECKING:
    from rmdepth_ros.inference import GeometryLabel

#: relative sigma at which a label pixel weighs 1 (the best the depth filter measures)
SIGMA_FLOOR = 0.05
#: 1: fully scale-invariant (the labels are in the labelling run's model units), where the
#: supervised warm start on metric truth uses 0.85
SILOG_LAMBDA = 1.0
PL_KEYS = ('pl_depth', 'pl_weight')


def label_maps(path: str, size: tuple[int, int]) -> dict[str, np.ndarray]:
    """'pl_depth' and 'pl_weight' (1, h, w) of one label file on the image grid `size`
    (width, height) of its frame; DataError when the file is not a label or another size."""
    from rmdepth_ros.datasets.sequence import DataError

    label = read_label(path)
    depth = label['depth']
    if (depth.shape[1], depth.shape[0]) != tuple(size):
        raise DataError(f'{path}: label is {depth.shape[1]}x{depth.shape[0]}, its frame '
                        f'{size[0]}x{size[1]} (labels from another camera size)')
    return pseudo_maps(depth, label['confidence'], label['moving'])


def pseudo_maps(depth: np.ndarray, sigma: np.ndarray, moving: np.ndarray | None
                ) -> dict[str, np.ndarray]:
    """'pl_depth' and 'pl_weight' (1, h, w) float32 of one frame's label: depth (h, w) model
    units (NaN = none), sigma (h, w) its relative 1-sigma, moving (h, w) bool or None."""
    depth = np.asarray(depth, np.float32)
    sigma = np.asarray(sigma, np.float32)
    # a sigma of 0 (or below) claims certainty nothing measured has: such pixels carry no label
    known = np.isfinite(depth) & (depth > 0) & np.isfinite(sigma) & (sigma > 0)
    if moving is not None:
        known &= ~np.asarray(moving, bool)
    weight = np.where(known, SIGMA_FLOOR ** 2 / (np.square(np.nan_to_num(sigma))
                                                 + SIGMA_FLOOR ** 2), 0.0)
    return {'pl_depth': np.where(known, depth, 0.0)[None].astype(np.float32),
            'pl_weight': weight[None].astype(np.float32)}


def label_truth(height: int, width: int, maps: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The truth dict of a real frame with a label (`triplets.no_truth`, every 'gt_*' zero)
    carrying `maps` ('pl_depth', 'pl_weight' from `label_maps` / `pseudo_maps`)."""
    return {**no_truth(height, width), **maps}


def kept_label(label: GeometryLabel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An estimator's label (`GeometryLabel`) as kept beside a frame until it trains:
    (depth, sigma) float16 (a relative error of 1e-3, far below any label's sigma) and moving
    bool; `pseudo_maps(*kept)` makes the batch maps of it."""
    return label.depth.astype(np.float16), label.sigma.astype(np.float16), label.moving


def pseudo_label_loss(depth: Tensor, label: Tensor, weight: Tensor) -> Tensor:
    """Weighted scale-invariant log loss, averaged over the images that have labels.

    depth, label: (B, 1, H, W) (label 0 = none); weight: (B, 1, H, W) >= 0.
    sqrt(E_w[d^2] - lambda E_w[d]^2) with d = log depth - log label, E_w the weighted mean.
    """
    used = (weight > 0) & (label > 0)
    w = torch.where(used, weight, torch.zeros_like(weight))
    d = torch.where(used, depth.clamp_min(1e-3).log() - label.clamp_min(1e-3).log(),
                    torch.zeros_like(depth))
    total = w.flatten(1).sum(1)  # (B,)
    has = total > 0
    if not bool(has.any()):
        return depth.new_zeros(())
    mean = (w * d).flatten(1).sum(1)[has] / total[has]
    mean_sq = (w * d * d).flatten(1).sum(1)[has] / total[has]
    return (mean_sq - SILOG_LAMBDA * mean.pow(2)).clamp_min(1e-8).sqrt().mean()
