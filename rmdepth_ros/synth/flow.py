"""Exact motion ground truth between consecutive synthetic frames: optical flow, its validity,
the moving-object mask and the per-pixel 3D object motion (conventions in docs/conventions.md).

A pixel's surface point is carried back to the previous time with its own surface's motion: the
camera motion for the static world, the box's pose change for a moving box, and rotation only
for the sky (points at infinity). Its projection into the previous camera gives the flow; it
was visible there when its previous depth is not behind the previous frame's rendered depth,
compared as inverse depth, which bilinear interpolation reproduces exactly on planes (the sky
has inverse depth 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rmdepth_ros.synth.render import NEAR

RTOL, ATOL = 0.01, 1e-4  # visibility tolerance on inverse depth: relative, and 1/metres


@dataclass
class MotionTruth:
    """flow: (H, W, 2) float32 pixels, NaN where the point is behind the previous camera;
    flow_valid: (H, W) bool; motion_mask: (H, W) bool; object_motion: (H, W, 3) float32
    metres, current camera frame."""

    flow: np.ndarray
    flow_valid: np.ndarray
    motion_mask: np.ndarray
    object_motion: np.ndarray


def motion_truth(depth: np.ndarray, ids: np.ndarray, intrinsics: np.ndarray,
                 prev_from_cur: np.ndarray, prev_from_cur_box: np.ndarray, moving: np.ndarray,
                 present_prev: np.ndarray, prev_depth: np.ndarray) -> MotionTruth:
    """Ground truth of the current frame relative to the previous one.

    depth, ids: (H, W) current render (synth_render); prev_from_cur: (4, 4) camera motion
    T_prev_cur; prev_from_cur_box: (N, 4, 4) the map of box k's surface points from current to
    previous camera coordinates; moving, present_prev: (N,) bool per box; prev_depth: (H, W)
    previous render's depth.
    """
    height, width = depth.shape
    fx, fy = intrinsics[0, 0], intrinsics[1, 1]
    cx, cy = intrinsics[0, 2], intrinsics[1, 2]
    grid_x = np.arange(width, dtype=np.float32)[None, :]
    grid_y = np.arange(height, dtype=np.float32)[:, None]
    finite = ids >= 0
    z = np.where(finite, depth, np.float32(1.0))  # the sky: a direction, z = 1
    x = ((grid_x - np.float32(cx)) * np.float32(1.0 / fx)) * z  # (H, W) current camera
    y = ((grid_y - np.float32(cy)) * np.float32(1.0 / fy)) * z
    m = prev_from_cur[:3].astype(np.float32)
    prev = [x * m[r, 0] + y * m[r, 1] + z * m[r, 2] for r in range(3)]
    for r in range(3):
        prev[r] += finite * m[r, 3]  # the sky only rotates

    moving_of_id = np.concatenate([[False, False], moving])  # index: id + 1
    mask = moving_of_id[ids + 1]
    motion = np.zeros((height, width, 3), np.float32)
    mover = np.flatnonzero(mask)
    if len(mover):
        k = ids.reshape(-1)[mover] - 1
        maps = prev_from_cur_box[:, :3, :].astype(np.float32)
        px, py, pz = x.reshape(-1)[mover], y.reshape(-1)[mover], z.reshape(-1)[mover]
        moved = [px * maps[:, r, 0][k] + py * maps[:, r, 1][k] + pz * maps[:, r, 2][k]
                 + maps[:, r, 3][k] for r in range(3)]
        for r in range(3):
            prev[r].reshape(-1)[mover] = moved[r]
        # Previous position in the current camera frame, R^T (X_prev - t); motion = now - then.
        rel = [moved[r] - m[r, 3] for r in range(3)]
        flat = motion.reshape(-1, 3)
        for c, p in enumerate((px, py, pz)):
            flat[mover, c] = p - (rel[0] * m[0, c] + rel[1] * m[1, c] + rel[2] * m[2, c])

    ahead = prev[2] > NEAR
    with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
        inv_z = np.float32(1.0) / prev[2]
        u = prev[0] * inv_z
        u *= np.float32(fx)
        u += np.float32(cx)
        v = prev[1] * inv_z
        v *= np.float32(fy)
        v += np.float32(cy)
    in_view = (u >= 0) & (u <= width - 1) & (v >= 0) & (v <= height - 1)
    flow = np.empty((height, width, 2), np.float32)
    np.subtract(grid_x, u, out=flow[..., 0])
    np.subtract(grid_y, v, out=flow[..., 1])
    if not ahead.all():  # behind the previous camera: no correspondence
        in_view &= ahead
        flow[~ahead] = np.nan
        u[~in_view] = -1.0
        v[~in_view] = -1.0
    seen = cv2.remap(np.float32(1.0) / prev_depth, u, v, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)  # inverse depth, 0 for the sky
    inv_z[~finite] = 0.0
    visible = inv_z >= seen * np.float32(1.0 - RTOL) - np.float32(ATOL)
    present_of_id = np.concatenate([[True, True], present_prev])
    valid = in_view & visible & present_of_id[ids + 1]
    return MotionTruth(flow, valid, mask, motion)
