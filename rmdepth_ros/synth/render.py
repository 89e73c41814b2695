"""Exact ray casting of a ground plane and oriented boxes: depth and surface-id images.

Every pixel's ray is r = ((x - cx) / fx, (y - cy) / fy, 1) in the camera optical frame, so the
ray parameter of a hit is its depth (optical z). A box is intersected in its own frame with the
slab method, only over the pixels of its projected bounding rectangle; large rectangles are done
box by box with separable ray components, small ones batched together.
"""

from __future__ import annotations

import numpy as np

SKY = -1  # surface id of pixels whose ray hits nothing
GROUND = 0  # surface id of the ground plane; box k has id k + 1
NEAR = 0.05  # metres; hits closer than this are ignored
BATCH_AREA = 400  # boxes with a bounding rectangle up to this many pixels are batched

_SIGNS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
_EDGES = np.array([(a, b) for a in range(8) for b in range(a + 1, 8)
                   if np.abs(_SIGNS[a] - _SIGNS[b]).sum() == 2])


class Raycaster:
    """Renders depth (metres, +inf for sky) and surface ids for one camera."""

    def __init__(self, intrinsics: np.ndarray, width: int, height: int) -> None:
        self.K = np.asarray(intrinsics, dtype=np.float64)
        self.width, self.height = width, height
        fx, fy, cx, cy = self.K[0, 0], self.K[1, 1], self.K[0, 2], self.K[1, 2]
        self.ray_x = ((np.arange(width) - cx) / fx).astype(np.float32)  # (W,)
        self.ray_y = ((np.arange(height) - cy) / fy).astype(np.float32)  # (H,)

    def ground(self, cam_from_world: np.ndarray, ground_y: float) -> np.ndarray:
        """(H, W) float32 depth of the world plane y = ground_y, +inf where not hit."""
        normal = cam_from_world[:3, 1]  # world y axis in camera coordinates
        dist = ground_y - (-cam_from_world[:3, :3].T @ cam_from_world[:3, 3])[1]
        dot = (normal[1] * self.ray_y + normal[2]).astype(np.float32)[:, None] \
            + (normal[0] * self.ray_x).astype(np.float32)[None, :]
        with np.errstate(divide='ignore'):
            depth = np.float32(dist) / dot
        depth[~(depth > NEAR)] = np.inf
        return depth

    def bounds(self, cam_from_box: np.ndarray, half: np.ndarray) -> np.ndarray:
        """(N, 4) int pixel rectangles [x0, x1) x [y0, y1) holding each box's projection;
        empty (x0 == x1) for boxes behind the camera or out of view."""
        n = len(half)
        if n == 0:
            return np.zeros((0, 4), int)
        corners = np.einsum('nij,nkj->nki', cam_from_box[:, :3, :3], _SIGNS[None] * half[:, None])
        corners += cam_from_box[:, None, :3, 3]  # (N, 8, 3) camera frame
        a, b = corners[:, _EDGES[:, 0]], corners[:, _EDGES[:, 1]]  # (N, 12, 3)
        za, zb = a[..., 2], b[..., 2]
        crossing = (za - NEAR) * (zb - NEAR) < 0
        with np.errstate(divide='ignore', invalid='ignore'):
            frac = np.where(crossing, (NEAR - za) / (zb - za), 0.0)
        clipped = a + frac[..., None] * (b - a)
        points = np.concatenate([corners, clipped], 1)  # (N, 20, 3)
        usable = np.concatenate([corners[..., 2] >= NEAR, crossing], 1)
        z = np.where(usable, np.maximum(points[..., 2], NEAR), 1.0)
        u = self.K[0, 0] * points[..., 0] / z + self.K[0, 2]
        v = self.K[1, 1] * points[..., 1] / z + self.K[1, 2]
        big = 1e9
        box = np.stack([np.where(usable, u, big).min(1), np.where(usable, u, -big).max(1),
                        np.where(usable, v, big).min(1), np.where(usable, v, -big).max(1)], 1)
        x0 = np.clip(np.floor(box[:, 0]), 0, self.width).astype(int)
        x1 = np.clip(np.ceil(box[:, 1]) + 1, 0, self.width).astype(int)
        y0 = np.clip(np.floor(box[:, 2]), 0, self.height).astype(int)
        y1 = np.clip(np.ceil(box[:, 3]) + 1, 0, self.height).astype(int)
        empty = (x1 <= x0) | (y1 <= y0) | ~usable.any(1)
        x1[empty], y1[empty] = x0[empty], y0[empty]
        return np.stack([x0, x1, y0, y1], 1)

    def render(self, cam_from_world: np.ndarray, box_to_world: np.ndarray, half: np.ndarray,
               ground_y: float) -> tuple[np.ndarray, np.ndarray]:
        """Depth (H, W) float32 metres (+inf sky) and ids (H, W) int32 (SKY, GROUND, k + 1).

        cam_from_world: (4, 4) inverse camera pose; box_to_world: (N, 4, 4) box poses;
        half: (N, 3) box half extents, metres.
        """
        depth = self.ground(cam_from_world, ground_y)
        ids = np.where(np.isfinite(depth), GROUND, SKY).astype(np.int32)
        cam_from_box = cam_from_world[None] @ box_to_world  # (N, 4, 4)
        rect = self.bounds(cam_from_box, half)
        area = (rect[:, 1] - rect[:, 0]) * (rect[:, 3] - rect[:, 2])
        rot = cam_from_box[:, :3, :3]
        origin = -np.einsum('nji,nj->ni', rot, cam_from_box[:, :3, 3])  # camera in box frame
        lo = (-half - origin).astype(np.float32)
        hi = (half - origin).astype(np.float32)
        for k in np.flatnonzero(area > BATCH_AREA):
            self._cast_one(k, rect[k], rot[k], lo[k], hi[k], depth, ids)
        small = np.flatnonzero((area > 0) & (area <= BATCH_AREA))
        if len(small):
            self._cast_batch(small, rect[small], area[small], rot[small], lo[small], hi[small],
                             depth, ids)
        return depth, ids

    def _cast_one(self, k: int, rect: np.ndarray, rot: np.ndarray, lo: np.ndarray,
                  hi: np.ndarray, depth: np.ndarray, ids: np.ndarray) -> None:
        x0, x1, y0, y1 = rect
        rx, ry = self.ray_x[x0:x1], self.ray_y[y0:y1]
        t_near = t_far = None
        with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
            for a in range(3):
                inv = (rot[1, a] * ry + rot[2, a]).astype(np.float32)[:, None] \
                    + (rot[0, a] * rx).astype(np.float32)[None, :]
                np.divide(1.0, inv, out=inv)  # (h, w) inverse local ray component
                t1 = inv * lo[a]
                inv *= hi[a]
                if a == 0:
                    t_near, t_far = np.minimum(t1, inv), np.maximum(t1, inv)
                else:
                    np.maximum(t_near, np.minimum(t1, inv), out=t_near)
                    np.minimum(t_far, np.maximum(t1, inv, out=t1), out=t_far)
        view = depth[y0:y1, x0:x1]
        hit = t_near <= t_far
        hit &= t_near > NEAR
        hit &= t_near < view
        np.copyto(view, t_near, where=hit)
        np.copyto(ids[y0:y1, x0:x1], k + 1, where=hit)

    def _cast_batch(self, boxes: np.ndarray, rect: np.ndarray, area: np.ndarray,
                    rot: np.ndarray, lo: np.ndarray, hi: np.ndarray, depth: np.ndarray,
                    ids: np.ndarray) -> None:
        width = rect[:, 1] - rect[:, 0]
        which = np.repeat(np.arange(len(boxes)), area)  # (P,) box of each pixel pair
        start = np.cumsum(area) - area
        local = np.arange(len(which)) - start[which]
        w = width[which]
        row = local // w
        py = rect[which, 2] + row
        px = rect[which, 0] + local - row * w
        rx, ry = self.ray_x[px], self.ray_y[py]
        rot32 = rot.astype(np.float32)
        t_near = t_far = None
        with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
            for a in range(3):
                inv = 1.0 / (rot32[which, 0, a] * rx + rot32[which, 1, a] * ry
                             + rot32[which, 2, a])
                t1, t2 = inv * lo[which, a], inv * hi[which, a]
                near, far = np.minimum(t1, t2), np.maximum(t1, t2)
                t_near = near if a == 0 else np.maximum(t_near, near)
                t_far = far if a == 0 else np.minimum(t_far, far)
        pix = py * self.width + px
        flat_depth = depth.reshape(-1)
        hit = (t_near <= t_far) & (t_near > NEAR) & (t_near < flat_depth[pix])
        pix, t_near, which = pix[hit], t_near[hit], which[hit]
        np.minimum.at(flat_depth, pix, t_near)
        won = t_near == flat_depth[pix]
        ids.reshape(-1)[pix[won]] = boxes[which[won]] + 1
