"""The per-pixel inverse-depth filter: the estimator's recurrent geometric state.

numpy / OpenCV only. Each pixel of the working grid holds a Gaussian belief about its inverse
depth (mean `rho`, variance `var`; var = inf where nothing was ever measured) built from
triangulated measurements alone - the network's depth is combined with it downstream as a
prior, so the network is never counted twice. Per frame:

1. `propagate`: the previous frame's belief is carried to the current frame along the flow
   (each current pixel reads the previous state at x - flow) and through the camera motion
   (the point is moved into the current camera; its inverse depth changes accordingly). A
   process noise grows the variance, so old evidence fades and a wrong state can recover.
2. `update`: each new measurement within `gate_sigmas` of the belief is fused by inverse
   variance (a Kalman update). One outside it is an outlier: it does not move the mean, but it
   raises the variance (`outlier_inflation`), and a belief that became weaker than the new
   measurement is replaced by it - a surface that really changed (an occlusion, a mover that
   stopped) is relearned within frames instead of corrupting the mean.

`reset` clears the state (a time jump, a size change, `~/reset`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class FilterOptions:
    """process_noise: relative 1-sigma added per frame (sigma_rho += process_noise * rho).
    gate_sigmas: innovation gate. outlier_inflation: variance factor of an outlier."""

    process_noise: float = 0.03
    gate_sigmas: float = 3.0
    outlier_inflation: float = 4.0


class DepthFilter:
    """Inverse-depth belief per pixel of one grid (module docstring)."""

    def __init__(self, options: FilterOptions | None = None) -> None:
        self.options = options or FilterOptions()
        self.rho: np.ndarray | None = None   # (H, W) float32 mean inverse depth, NaN = none
        self.var: np.ndarray | None = None   # (H, W) float32 variance, inf = none
        self.outliers = 0

    def reset(self) -> None:
        self.rho = self.var = None

    @property
    def empty(self) -> bool:
        return self.rho is None

    def propagate(self, flow: np.ndarray, prev_from_cur: np.ndarray, rays: np.ndarray,
                  K: np.ndarray) -> None:
        """Carry the belief from the previous frame's grid to the current one.

        flow: (H, W, 2) current grid (x was at x - flow). prev_from_cur: (4, 4) T_prev_cur.
        rays: (3, H, W) K^-1 [u, v, 1] of the current grid; K: (3, 3) of both grids.
        """
        if self.rho is None:
            return
        if self.rho.shape != flow.shape[:2]:
            self.reset()
            return
        height, width = flow.shape[:2]
        fx, fy = float(K[0, 0]), float(K[1, 1])
        cx, cy = float(K[0, 2]), float(K[1, 2])
        map_x = (rays[0] * fx + cx - flow[..., 0]).astype(np.float32)
        map_y = (rays[1] * fy + cy - flow[..., 1]).astype(np.float32)
        # nearest: a belief is one surface's; interpolating across an edge invents a third
        rho_prev = cv2.remap(self.rho, map_x, map_y, cv2.INTER_NEAREST,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)
        var_prev = cv2.remap(self.var, map_x, map_y, cv2.INTER_NEAREST,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=np.inf)
        T = np.asarray(prev_from_cur, np.float64)
        R, t = T[:3, :3].astype(np.float32), T[:3, 3].astype(np.float32)
        # the point in the previous camera, then in the current one: X_cur = R^T (X_prev - t)
        Kinv = np.linalg.inv(np.asarray(K, np.float64)).astype(np.float32)
        ray_prev_x = Kinv[0, 0] * map_x + Kinv[0, 2]
        ray_prev_y = Kinv[1, 1] * map_y + Kinv[1, 2]
        with np.errstate(divide='ignore', invalid='ignore'):
            z_prev = 1.0 / rho_prev
            z_cur = (R[0, 2] * (ray_prev_x * z_prev - t[0]) + R[1, 2] * (ray_prev_y * z_prev
                     - t[1]) + R[2, 2] * (z_prev - t[2]))
            rho = 1.0 / z_cur
            ratio = rho / rho_prev
            var = var_prev * ratio ** 4 + (self.options.process_noise * rho) ** 2
        bad = ~np.isfinite(rho) | (rho <= 0) | ~np.isfinite(var)
        self.rho = np.where(bad, np.nan, rho).astype(np.float32)
        self.var = np.where(bad, np.inf, var).astype(np.float32)

    def update(self, rho: np.ndarray, var: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Fuse this frame's measurements (rho, var: (H, W); valid: (H, W) bool).
        Returns (H, W) bool: the measurements rejected as outliers."""
        if self.rho is None or self.rho.shape != rho.shape:
            self.rho = np.where(valid, rho, np.nan).astype(np.float32)
            self.var = np.where(valid, var, np.inf).astype(np.float32)
            return np.zeros(rho.shape, bool)
        known = valid & np.isfinite(self.rho)
        with np.errstate(invalid='ignore', over='ignore'):
            innovation = np.abs(rho - self.rho)
            outlier = known & (innovation > self.options.gate_sigmas
                               * np.sqrt(var + self.var))
            fuse = known & ~outlier
            gain = self.var / (self.var + var)
            new_rho = np.where(fuse, self.rho + gain * (rho - self.rho), self.rho)
            new_var = np.where(fuse, self.var * (1 - gain), self.var)
            new_var = np.where(outlier, new_var * self.options.outlier_inflation, new_var)
            # a belief now weaker than the measurement that contradicts it is replaced
            replace = (valid & ~known) | (outlier & (new_var > var))
        self.rho = np.where(replace, rho, new_rho).astype(np.float32)
        self.var = np.where(replace, var, new_var).astype(np.float32)
        self.outliers += int(outlier.sum())
        return outlier
