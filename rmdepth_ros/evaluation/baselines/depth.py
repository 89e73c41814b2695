"""Depth baselines: a constant map and a flat-ground prior. No image content is used.

Both are median-scaled by the depth metrics exactly like the system, so the constant map's
value does not matter; what it scores is the spread of the ground truth around its median.
"""

from __future__ import annotations

import numpy as np

FAR_DEPTH = 80.0  # metres: the ground prior above the horizon, and its cap below it


def constant_depth(shape: tuple[int, int], value: float = 1.0) -> np.ndarray:
    """(H, W) float32 depth equal to `value` everywhere."""
    if not value > 0:
        raise ValueError(f'constant depth must be positive, got {value}')
    return np.full(shape[:2], value, np.float32)


def ground_plane_depth(shape: tuple[int, int], intrinsics: np.ndarray, camera_height: float,
                       far: float = FAR_DEPTH) -> np.ndarray:
    """(H, W) float32 depth of a flat ground seen by a level camera `camera_height` m above it.

    A pixel of row v below the horizon row cy sees the ground at depth h fy / (v - cy) along
    the optical axis (the ray's y/z is (v - cy) / fy and the ground is at y = h); rows at or
    above the horizon, and ground farther than `far`, get `far`. No ground truth is used.
    """
    if not camera_height > 0 or not far > 0:
        raise ValueError(f'camera_height and far must be positive, got {camera_height}, {far}')
    K = np.asarray(intrinsics, np.float64)
    height, width = shape[:2]
    below = np.arange(height, dtype=np.float64) - K[1, 2]  # (H,) rows minus the horizon
    with np.errstate(divide='ignore'):
        rows = np.where(below > 0, camera_height * K[1, 1] / below, far)
    rows = np.minimum(rows, far)
    return np.repeat(rows[:, None], width, axis=1).astype(np.float32)
