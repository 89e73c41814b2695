"""Per-pixel inverse depth from optical flow and a known camera motion, with its uncertainty.

numpy only. For a pixel x of the current frame whose point was at x - flow(x) in the previous
frame, and the camera motion `T_prev_cur` (X_prev = R X_cur + t, docs/conventions.md), the
point X_cur = z K^-1 x satisfies X_prev = z R f + t ~ g, with f = K^-1 x and g = K^-1 (x -
flow). Crossing with g gives z (R f x g) = -(t x g): z is its least-squares solution, one
division per pixel.

What the measurement is worth follows from the epipolar geometry. As the inverse depth rho
goes from 0 (a point at infinity, where the rotation alone would put it) to its value, the
projection in the previous frame slides along the epipolar line; its speed |d x_prev / d rho|
(pixels per unit of inverse depth) turns a flow error of `sigma_px` into
sigma_rho = sigma_px / speed. The flow's distance from the epipolar line (`epipolar_px`) is what
no depth can explain: flow noise, or an independently moving point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Triangulation:
    """One frame's measurements on the flow's grid (H, W), float32.

    inverse_depth: 1 / z, model units^-1 (NaN where the rays do not meet in front of the
      camera). parallax_px: the flow's displacement along the epipolar line from where the
      rotation alone puts the point (rotation-compensated parallax, pixels). epipolar_px: the
      flow's distance from the epipolar line (pixels). speed: |d x_prev / d rho| at the
      measured rho (pixels per unit of inverse depth; 0 near the epipole).
    """

    inverse_depth: np.ndarray
    parallax_px: np.ndarray
    epipolar_px: np.ndarray
    speed: np.ndarray

    def sigma(self, sigma_px: np.ndarray | float) -> np.ndarray:
        """1-sigma of inverse_depth (H, W) for a flow error of sigma_px pixels."""
        with np.errstate(divide='ignore'):
            return np.float32(sigma_px) / self.speed


def pixel_rays(shape: tuple[int, int], K: np.ndarray) -> np.ndarray:
    """(3, H, W) float32 rays K^-1 [u, v, 1] of every pixel centre of an (H, W) grid."""
    height, width = shape
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    Kinv = np.linalg.inv(np.asarray(K, np.float64)).astype(np.float32)
    return np.einsum('ij,jhw->ihw', Kinv, np.stack([u, v, np.ones_like(u)]))


def triangulate_flow(flow: np.ndarray, K: np.ndarray, prev_from_cur: np.ndarray,
                     rays: np.ndarray | None = None) -> Triangulation:
    """Triangulate every pixel of the current frame from its flow (module docstring).

    flow: (H, W, 2) float32 pixels on the current grid (x was at x - flow in the previous
    frame). K: (3, 3) intrinsics of that grid. prev_from_cur: (4, 4) T_prev_cur, model units.
    rays: pixel_rays(shape, K), when the caller keeps them.
    """
    K = np.asarray(K, np.float64)
    T = np.asarray(prev_from_cur, np.float64)
    R, t = T[:3, :3].astype(np.float32), T[:3, 3].astype(np.float32)
    f = pixel_rays(flow.shape[:2], K) if rays is None else rays          # (3, H, W)
    fx, fy, cx, cy = (np.float32(K[0, 0]), np.float32(K[1, 1]), np.float32(K[0, 2]),
                      np.float32(K[1, 2]))
    a = np.einsum('ij,jhw->ihw', R, f)                                   # rotated rays
    # g: the ray of the previous position x - flow
    gx = f[0] - flow[..., 0] / fx
    gy = f[1] - flow[..., 1] / fy
    # a x g and t x g with g = (gx, gy, 1)
    axg = np.stack([a[1] - a[2] * gy, a[2] * gx - a[0], a[0] * gy - a[1] * gx])
    txg = np.stack([t[1] - t[2] * gy, t[2] * gx - t[0], t[0] * gy - t[1] * gx])
    with np.errstate(divide='ignore', invalid='ignore'):
        z = -np.sum(axg * txg, axis=0) / np.sum(axg * axg, axis=0)
        rho = 1.0 / z
        # projection of a + rho t in the previous frame, and its derivative in rho
        den = a[2] + rho * t[2]
        du = fx * (t[0] * a[2] - a[0] * t[2]) / den ** 2
        dv = fy * (t[1] * a[2] - a[1] * t[2]) / den ** 2
        speed = np.hypot(du, dv)
        # the epipolar line through the rotation-only point, direction (du, dv)
        u_inf, v_inf = fx * a[0] / a[2] + cx, fy * a[1] / a[2] + cy
        u_obs = fx * gx + cx
        v_obs = fy * gy + cy
        dx, dy = u_obs - u_inf, v_obs - v_inf
        along = (dx * du + dy * dv) / speed
        across = np.abs(dx * dv - dy * du) / speed
    bad = ~np.isfinite(rho) | (rho <= 0) | (den <= 0) | ~np.isfinite(speed)
    rho = np.where(bad, np.nan, rho).astype(np.float32)
    return Triangulation(inverse_depth=rho, parallax_px=along.astype(np.float32),
                         epipolar_px=across.astype(np.float32),
                         speed=np.where(np.isfinite(speed), speed, 0).astype(np.float32))
