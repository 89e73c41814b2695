"""Cast shadows of boxes on the ground plane, drawn in image space.

The shadow of a box on the plane y = ground_y, for light from direction `toward` (unit,
road-world, pointing from the ground to the light), is the convex hull of its eight corners
projected along the light onto the plane. The hull is a planar convex polygon: clipped to the
half-space in front of the camera and projected through the pinhole it stays convex, and every
ground pixel inside its image lies in the shadow (exactly, up to anti-aliasing of the edge).
With light straight from above, the same hull is the box's footprint (used for the ambient
darkening under cars). Appearance only: depth and flow never see it.
"""

from __future__ import annotations

import cv2
import numpy as np

_SIGNS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
NEAR = 0.5  # metres; the polygon is clipped to camera depth above this
SHIFT = 4  # fixed-point bits of the polygon vertices


def _clip_near(points: np.ndarray) -> np.ndarray:
    """Convex polygon (k, 3) in camera coordinates clipped to z >= NEAR (Sutherland-Hodgman)."""
    out = []
    k = len(points)
    for i in range(k):
        a, b = points[i], points[(i + 1) % k]
        a_in, b_in = a[2] >= NEAR, b[2] >= NEAR
        if a_in:
            out.append(a)
        if a_in != b_in:
            t = (NEAR - a[2]) / (b[2] - a[2])
            out.append(a + t * (b - a))
    return np.array(out).reshape(-1, 3)


def ground_shadow(intrinsics: np.ndarray, width: int, height: int, cam_from_world: np.ndarray,
                  box_to_world: np.ndarray, half: np.ndarray, toward: np.ndarray,
                  ground_y: float) -> np.ndarray:
    """(H, W) float32 in [0, 1]: fraction of each pixel's ground point shadowed by the boxes
    (N, 4, 4 poses; N, 3 half extents) for light from `toward` (3,), y down (toward[1] < 0)."""
    mask = np.zeros((height, width), np.uint8)
    if len(half) == 0:
        return mask.astype(np.float32)
    toward = np.asarray(toward, np.float64)
    corners = np.einsum('nij,nkj->nki', box_to_world[:, :3, :3], _SIGNS[None] * half[:, None])
    corners += box_to_world[:, None, :3, 3]  # (N, 8, 3) road world
    t = (ground_y - corners[..., 1]) / -toward[1]
    flat = corners - t[..., None] * toward  # on the ground plane
    flat[..., 1] = ground_y
    cam = np.einsum('ij,nkj->nki', cam_from_world[:3, :3], flat) + cam_from_world[:3, 3]
    z = cam[..., 2]
    front = (z >= NEAR).any(1)
    scale = float(1 << SHIFT)
    limit = 8.0 * max(width, height)
    fx, fy, cx, cy = intrinsics[0, 0], intrinsics[1, 1], intrinsics[0, 2], intrinsics[1, 2]
    # Boxes whose shadow corners are all in front: project them all at once and cull those
    # outside the image; the hull of the projected corners is the projected hull.
    whole = (z >= NEAR).all(1)
    safe = np.where(z >= NEAR, z, 1.0)
    u = np.clip(fx * cam[..., 0] / safe + cx, -limit, limit)
    v = np.clip(fy * cam[..., 1] / safe + cy, -limit, limit)
    seen = (u.max(1) >= 0) & (u.min(1) <= width) & (v.max(1) >= 0) & (v.min(1) <= height)
    pts = np.round(np.stack([u, v], -1) * scale).astype(np.int32)  # (N, 8, 2)
    for n in np.flatnonzero(whole & seen):
        cv2.fillConvexPoly(mask, cv2.convexHull(pts[n]), 255, lineType=cv2.LINE_AA, shift=SHIFT)
    for n in np.flatnonzero(front & ~whole):  # crossing the near plane: clip first
        hull = cv2.convexHull(flat[n][:, [0, 2]].astype(np.float32), returnPoints=False)
        poly = _clip_near(cam[n][hull.reshape(-1)])
        if len(poly) < 3:
            continue
        pu = np.clip(fx * poly[:, 0] / poly[:, 2] + cx, -limit, limit)
        pv = np.clip(fy * poly[:, 1] / poly[:, 2] + cy, -limit, limit)
        if pu.max() < 0 or pu.min() > width or pv.max() < 0 or pv.min() > height:
            continue
        clipped = np.round(np.stack([pu, pv], 1) * scale).astype(np.int32)
        cv2.fillConvexPoly(mask, clipped, 255, lineType=cv2.LINE_AA, shift=SHIFT)
    return mask.astype(np.float32) * np.float32(1.0 / 255.0)
