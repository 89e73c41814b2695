"""Random aspect ratios at a fixed pixel budget: training for the estimator's `resize: native`.

At inference `resize: native` runs the networks at the camera's own aspect ratio with about the
weights' pixel count (`rmdepth_ros.resize.native_size`). This augmentation shows the networks
such shapes in training: for a global batch it draws one aspect ratio (all samples of a batch
share a size so that they collate), the network size is `native_size` of that aspect within
the configured width x height, and each sample is a random window of that aspect from its
source frames (the same window for the three frames), resized to the network size.

Intrinsics follow exactly: the window's corner shifts cx, cy, then the resize rule of
docs/conventions.md. Ground truth (synthetic frames, truth on the source grid) is cut from the
same window and resized by nearest neighbour (no value is invented across an edge); flow is
scaled to the new pixels, camera and object motions do not change.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from rmdepth_ros.resize import native_size
from rmdepth_training.config import AugmentConfig

#: truth maps that are images on the target grid (the rest, e.g. 'gt_T', are not)
_GRID_KEYS = ('gt_depth', 'gt_flow', 'gt_flow_valid', 'gt_object', 'pl_depth', 'pl_weight')


def batch_size_for(cfg: AugmentConfig, budget: tuple[int, int], rng: np.random.Generator
                   ) -> tuple[int, int] | None:
    """The network size (width, height) of one batch, or None to keep the configured size.

    With probability cfg.aspect_prob an aspect ratio is drawn log-uniformly from
    [cfg.aspect_min, cfg.aspect_max] and sized by `native_size` within `budget`.
    """
    if not (cfg.aspect_prob > 0 and rng.random() < cfg.aspect_prob):
        return None
    aspect = math.exp(rng.uniform(math.log(cfg.aspect_min), math.log(cfg.aspect_max)))
    return native_size((max(1, round(1000 * aspect)), 1000), budget)


def random_window(image_size: tuple[int, int], aspect: float, min_scale: float,
                  rng: np.random.Generator) -> tuple[int, int, int, int]:
    """(x0, y0, width, height): a window of `aspect` inside an image of image_size (width,
    height), its side a random fraction in [min_scale, 1] of the largest such window, placed
    at random."""
    width, height = image_size
    full_w = min(width, height * aspect)
    scale = rng.uniform(min_scale, 1.0)
    win_w = max(1, min(width, round(full_w * scale)))
    win_h = max(1, min(height, round(win_w / aspect)))
    x0 = int(rng.integers(0, width - win_w + 1))
    y0 = int(rng.integers(0, height - win_h + 1))
    return x0, y0, win_w, win_h


def crop_triplet(images: list[np.ndarray], K: np.ndarray, truth: dict[str, np.ndarray] | None,
                 window: tuple[int, int, int, int]
                 ) -> tuple[list[np.ndarray], np.ndarray, dict[str, np.ndarray] | None]:
    """Cut `window` (x0, y0, width, height) out of the frames (H, W[, 3]) and of the truth
    (maps (C, H, W) on the frames' grid; others kept); K (3, 3) shifted by the corner."""
    x0, y0, width, height = window
    cropped = [np.ascontiguousarray(image[y0:y0 + height, x0:x0 + width]) for image in images]
    shifted = np.array(K, dtype=np.float64, copy=True)
    shifted[0, 2] -= x0
    shifted[1, 2] -= y0
    if truth is not None:
        truth = {key: (np.ascontiguousarray(value[..., y0:y0 + height, x0:x0 + width])
                       if key in _GRID_KEYS else value) for key, value in truth.items()}
    return cropped, shifted, truth


def resize_truth(truth: dict[str, np.ndarray], size: tuple[int, int]) -> dict[str, np.ndarray]:
    """Truth maps (C, h, w) -> (C, height, width) by nearest neighbour, flow in new pixels."""
    width, height = size
    out = dict(truth)
    source_h, source_w = truth['gt_depth'].shape[-2:]
    for key in _GRID_KEYS:
        maps = [cv2.resize(channel, (width, height), interpolation=cv2.INTER_NEAREST)
                for channel in truth[key]]
        out[key] = np.stack(maps).astype(np.float32)
    out['gt_flow'][0] *= width / source_w
    out['gt_flow'][1] *= height / source_h
    return out
