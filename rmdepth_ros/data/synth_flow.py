"""Exact motion ground truth between consecutive synthetic frames: optical flow, its validity,
the moving-object mask and the per-pixel 3D object motion (conventions in docs/conventions.md).

A pixel's surface point is carried back to the previous time with its own surface's motion: the
camera motion for the static world, the box's pose change for a moving box, and rotation only
for the sky (points at infinity). Its projection into the previous camera gives the flow; it
was visible there when its previous depth is not behind the previous frame's rendered depth.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rmdepth_ros.data.synth_render import NEAR

FAR = 1e4  # metres; depths beyond this (and the sky) compare as equal in the visibility test
RTOL, ATOL = 0.01, 0.02  # visibility tolerance: relative, and metres


@dataclass
class MotionTruth:
    """flow: (H, W, 2) float32 pixels, NaN where the point is behind the previous camera;
    flow_valid: (H, W) bool; motion_mask: (H, W) bool; object_motion: (H, W, 3) float32
    metres, current camera frame."""

    flow: np.ndarray
    flow_valid: np.ndarray
    motion_mask: np.ndarray
    object_motion: np.ndarray


def motion_truth(depth: np.ndarray, ids: np.ndarray, rays: np.ndarray, intrinsics: np.ndarray,
                 prev_from_cur: np.ndarray, prev_from_cur_box: np.ndarray, moving: np.ndarray,
                 present_prev: np.ndarray, prev_depth: np.ndarray) -> MotionTruth:
    """Ground truth of the current frame relative to the previous one.

    depth, ids: (H, W) current render (synth_render); rays: (H*W, 3) float32 pixel rays with
    unit z; prev_from_cur: (4, 4) camera motion T_prev_cur; prev_from_cur_box: (N, 4, 4) the
    map of box k's surface points from current to previous camera coordinates; moving,
    present_prev: (N,) bool per box; prev_depth: (H, W) previous render's depth.
    """
    height, width = depth.shape
    ids = ids.reshape(-1)
    finite = ids >= 0
    points = rays * np.where(finite, depth.reshape(-1), 1.0)[:, None]  # (n, 3) current camera
    rot = prev_from_cur[:3, :3].astype(np.float32)
    prev = points @ rot.T
    prev[finite] += prev_from_cur[:3, 3].astype(np.float32)  # the sky only rotates

    moving_of_id = np.concatenate([[False, False], moving])  # index: id + 1
    mover = np.flatnonzero(moving_of_id[ids + 1])
    motion = np.zeros_like(points)
    if len(mover):
        maps = prev_from_cur_box[:, :3, :].astype(np.float32).reshape(-1, 12)[ids[mover] - 1]
        p = points[mover]
        prev[mover] = np.stack([p[:, 0] * maps[:, 4 * r] + p[:, 1] * maps[:, 4 * r + 1]
                                + p[:, 2] * maps[:, 4 * r + 2] + maps[:, 4 * r + 3]
                                for r in range(3)], 1)
        # Previous position expressed in the current camera frame: R^T (X_prev - t).
        back = (prev[mover] - prev_from_cur[:3, 3].astype(np.float32)) @ rot
        motion[mover] = p - back

    fx, fy = intrinsics[0, 0], intrinsics[1, 1]
    cx, cy = intrinsics[0, 2], intrinsics[1, 2]
    z = prev[:, 2]
    ahead = z > NEAR
    with np.errstate(divide='ignore', invalid='ignore'):
        inv_z = np.where(ahead, 1.0 / z, np.nan).astype(np.float32)
    u = (prev[:, 0] * inv_z * np.float32(fx) + np.float32(cx)).reshape(height, width)
    v = (prev[:, 1] * inv_z * np.float32(fy) + np.float32(cy)).reshape(height, width)
    grid_x = np.arange(width, dtype=np.float32)[None, :]
    grid_y = np.arange(height, dtype=np.float32)[:, None]
    flow = np.stack([grid_x - u, grid_y - v], -1)

    in_view = ahead.reshape(height, width) & (u >= 0) & (u <= width - 1) \
        & (v >= 0) & (v <= height - 1)
    seen = cv2.remap(np.minimum(prev_depth, FAR).astype(np.float32),
                     np.nan_to_num(u, nan=-1.0), np.nan_to_num(v, nan=-1.0),
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    z_prev = np.where(finite, np.minimum(z, FAR), FAR).reshape(height, width)
    visible = z_prev <= seen * (1.0 + RTOL) + ATOL
    present_of_id = np.concatenate([[True, True], present_prev])
    valid = in_view & visible & present_of_id[ids + 1].reshape(height, width)
    return MotionTruth(flow, valid, moving_of_id[ids + 1].reshape(height, width),
                       motion.reshape(height, width, 3))
