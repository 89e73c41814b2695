"""Depth from motion: one frame through the geometry stage (`DepthFromMotion.step`).

numpy / OpenCV only; the estimator calls it after the networks, on the input image's grid.
Per frame, on a working grid of at most `max_width` pixels across:

1. dense flow, current -> previous (DIS, `dense_flow`), started from the rigid flow that the
   previous frame's fused depth and the camera motion predict, with a forward-backward check;
2. every pixel triangulated from its flow and the camera motion (`triangulation`); kept where
   the rotation-compensated parallax is large enough, the flow is consistent both ways, lies
   near the epipolar line and the image has texture;
3. the per-pixel filter (`depth_filter`) carries the previous belief to this frame and fuses
   the measurements; moving pixels (`moving_mask`) are left out of it;
4. the network's depth is the prior: its relative error is measured on this frame (the robust
   spread of log(filtered / network) over the confident pixels); the depth is the network's
   corrected by a scale field spread from the filter's pixels (`densify`), fused per pixel with
   the filter by inverse variance;
5. flow: the rigid flow of that depth and the camera motion on static pixels, the observed
   flow on moving ones.

Where nothing is observed - the first frame, a standing camera, pure rotation, no motion, the
epipole's surroundings - the depth is exactly the network's and its confidence the prior's.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
import time

import cv2
import numpy as np

from rmdepth_ros.geometry.dense_flow import DenseFlow
from rmdepth_ros.geometry.densify import DensifyOptions, scale_field
from rmdepth_ros.geometry.depth_filter import DepthFilter, FilterOptions
from rmdepth_ros.geometry.moving_mask import (
    MaskOptions,
    clean_mask,
    depth_inconsistency,
    geometric_evidence,
)
from rmdepth_ros.geometry.triangulation import pixel_rays, triangulate_flow

DEPTH_SOURCES = ('fused', 'network')
DEFAULT_DEPTH_SOURCE = 'fused'


@dataclass(frozen=True)
class GeometryOptions:
    """max_width: the working grid's width limit (pixels). flow_preset: DIS preset.
    flow_sigma_px: the flow's base 1-sigma (pixels of the working grid), to which the
    forward-backward error adds. max_backward_px / max_epipolar_px: the flow's consistency
    gates. min_parallax_px: the least rotation-compensated parallax measured. min_gradient:
    the least image gradient (grey levels per pixel, Sobel / 8) of a measured pixel.
    prior_sigma: the network's relative error before a frame has measured it; the measured
    one is clipped to [min_prior_sigma, max_prior_sigma]. min_measured: fewest confident
    pixels (share of the grid) to measure the prior's error and to densify. initial_flow:
    start DIS from the rigid flow of the previous frame's depth. flow_epipolar_px: the
    published flow of a static pixel is its observed flow moved onto the epipolar line when
    it lies within this of the line, else the fused depth's rigid flow. temporal: keep the
    filter across frames (False: each frame measured on its own)."""

    max_width: int = 1280
    flow_preset: str = 'medium'
    check_preset: str = 'medium'
    flow_sigma_px: float = 0.35
    max_backward_px: float = 0.5
    max_epipolar_px: float = 1.0
    min_parallax_px: float = 0.75
    min_gradient: float = 2.0
    prior_sigma: float = 0.35
    min_prior_sigma: float = 0.05
    max_prior_sigma: float = 1.0
    min_measured: float = 0.01
    initial_flow: bool = True
    flow_epipolar_px: float = 3.0
    temporal: bool = True
    prior_gate: float = 3.0
    scale_reset: float = 0.15
    densify: DensifyOptions = field(default_factory=DensifyOptions)
    filter: FilterOptions = field(default_factory=FilterOptions)
    mask: MaskOptions = field(default_factory=MaskOptions)


@dataclass
class GeometryOutput:
    """One frame's geometry, on the input grid (H, W).

    depth: float32 model units (the network's where nothing was observed). sigma: float32
    relative 1-sigma of depth (sigma_z / z). flow: (H, W, 2) float32 or None (first frame).
    moving: bool or None. observed: share of the working grid measured this frame (0..1).
    prior_sigma: the network's relative error measured on this frame (None: not measured).
    reason: why nothing was measured (e.g. 'no motion', 'standing'), else None.
    timings: milliseconds per stage ('flow', 'flow_check', 'triangulate', 'filter', 'mask',
    'densify', 'outputs'; bench/bench_geometry.py prints them).
    """

    depth: np.ndarray
    sigma: np.ndarray
    flow: np.ndarray | None = None
    moving: np.ndarray | None = None
    observed: float = 0.0
    prior_sigma: float | None = None
    reason: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class _Previous:
    gray: np.ndarray        # working grid
    depth: np.ndarray       # fused depth on the working grid


class DepthFromMotion:
    """The geometry stage's state and its per-frame step (module docstring)."""

    def __init__(self, options: GeometryOptions | None = None) -> None:
        self.options = options or GeometryOptions()
        self._flow = DenseFlow(self.options.flow_preset, self.options.check_preset)
        self.filter = DepthFilter(self.options.filter)
        self._previous: _Previous | None = None
        self._grid: tuple[tuple[int, int], np.ndarray, np.ndarray] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._pending: tuple[np.ndarray, Future] | None = None
        #: frames by outcome: 'measured', or the reason nothing was
        self.counts: Counter = Counter()

    def reset(self) -> None:
        """Forget everything: the next frame is a first frame."""
        self._previous = self._pending = None
        self.filter.reset()

    def step(self, gray: np.ndarray, K: np.ndarray, network_depth: np.ndarray,
             prev_from_cur: np.ndarray | None, network_mask: np.ndarray | None = None,
             standing: bool = False, trusted: bool = True) -> GeometryOutput:
        """One frame.

        gray: (H, W) uint8. K: (3, 3) its intrinsics. network_depth: (H, W) float32 model
        units, NaN invalid. prev_from_cur: (4, 4) T_prev_cur in model units, None when there
        is no previous frame (first frame, reset). network_mask: (H, W) bool or None.
        standing: the camera is known to stand still (no parallax to measure; the belief is
        kept). trusted: False when the motion is a guess (a fallback of the motion source,
        e.g. pure rotation): the belief is dropped, the depth is the network's, the flow the
        observed one, the mask the network's.
        """
        opt = self.options
        full = gray.shape
        work_shape, K_work, rays = self._working_grid(full, K)
        small = _resize(gray, work_shape, cv2.INTER_AREA)
        depth_small = _resize_depth(network_depth, work_shape)
        previous, self._previous = self._previous, None
        prior = np.full(full, opt.prior_sigma, np.float32)
        reason = None
        if previous is None or prev_from_cur is None:
            reason = 'no previous frame'
        elif previous.gray.shape != small.shape:
            reason = 'size change'
        elif not np.all(np.isfinite(prev_from_cur)):
            reason = 'no motion'
        if reason is not None:
            self.filter.reset()
            self._previous = _Previous(small, depth_small)
            self.counts[reason] += 1
            return GeometryOutput(network_depth, prior, reason=reason)
        if not trusted:
            return self._untrusted(previous, small, depth_small, network_depth, network_mask,
                                   prior)

        T = np.asarray(prev_from_cur, np.float64)
        clock = _Clock()
        initial = None
        if opt.initial_flow:
            initial = np.nan_to_num(_rigid_flow(previous.depth, K_work, T, rays))
        flow = self._flow.flow(previous.gray, small, initial)
        clock.mark('flow')
        backward = self._flow.backward_error(previous.gray, small, flow,
                                             self._take_forward(small))
        clock.mark('flow_check')
        sigma_px = opt.flow_sigma_px + np.nan_to_num(backward, nan=1e3)
        # flat image regions (sky, smooth road) give DIS nothing to hold on to: a flow there
        # passes the forward-backward check by being equally wrong both ways
        reliable = (backward <= opt.max_backward_px) & (_gradient(small) >= opt.min_gradient)
        tri = triangulate_flow(flow, K_work, T, rays)
        clock.mark('triangulate')

        # the belief before this frame's measurements: what the mask compares to
        if opt.temporal:
            self.filter.propagate(flow, T, rays, K_work)
        else:
            self.filter.reset()
        network_small = network_mask_small(network_mask, work_shape)
        measured = (reliable & np.isfinite(tri.inverse_depth)
                    & (np.abs(tri.parallax_px) >= opt.min_parallax_px)
                    & (tri.epipolar_px <= opt.max_epipolar_px))
        if opt.scale_reset > 0 and not standing and self._scale_disagrees(tri, measured):
            # this frame's step length and the belief disagree on the scene's scale (a speed
            # change the motion's length has not followed yet): the belief is dropped rather
            # than mixed with measurements of another scale
            self.filter.reset()
            self.counts['scale reset'] += 1
        if standing or not measured.any():
            reason = 'standing' if standing else 'no parallax'
            moving = np.zeros(work_shape, bool) if network_small is None else network_small
            clock.mark('filter')
        else:
            reference, reference_sigma = self._belief(depth_small)
            evidence = geometric_evidence(tri, sigma_px, reliable, reference, reference_sigma,
                                          opt.mask)
            if opt.mask.inconsistent_sigmas > 0:
                evidence |= self._inconsistent(tri, sigma_px, depth_small, measured & ~evidence)
            excluded = evidence
            if network_small is not None and opt.mask.network_margin_px >= 0:
                # the network's movers stay out of the filter too, with a margin for its edges
                size = 2 * opt.mask.network_margin_px + 1
                excluded = evidence | cv2.dilate(network_small.astype(np.uint8),
                                                 np.ones((size, size), np.uint8)).astype(bool)
            outliers = self.filter.update(tri.inverse_depth, np.square(tri.sigma(sigma_px)),
                                          measured & ~excluded)
            clock.mark('filter')
            if opt.mask.use_filter_outliers:
                evidence |= outliers & reliable
            moving = clean_mask(evidence, network_small, opt.mask)
            clock.mark('mask')
        depth, sigma, observed, prior_sigma = self._fuse(depth_small, moving)
        if observed == 0 and reason is None:
            reason = 'no parallax'
        self.counts[reason or 'measured'] += 1
        self._previous = _Previous(small, depth)
        clock.mark('densify')

        depth_full = _corrected(network_depth, depth, depth_small)
        # the flow of static pixels: where this frame's flow was measured, its own depth (the
        # observed flow moved onto its epipolar line), elsewhere the fused depth's
        with np.errstate(divide='ignore', invalid='ignore'):
            on_line = np.isfinite(tri.inverse_depth) & (tri.epipolar_px <= opt.flow_epipolar_px)
            own = np.where(on_line & ~moving, 1.0 / tri.inverse_depth, depth)
        flow_depth = _corrected(network_depth, own.astype(np.float32), depth_small)
        sigma_full = _resize(sigma, full, cv2.INTER_LINEAR)
        moving_full = _resize(moving.astype(np.uint8), full, cv2.INTER_NEAREST).astype(bool)
        scale = np.float32([full[1] / work_shape[1], full[0] / work_shape[0]])
        observed_flow = _resize(flow, full, cv2.INTER_LINEAR) * scale
        rigid = _rigid_flow(flow_depth, K, T, rays if work_shape == full else None)
        flow_full = np.where(moving_full[..., None] | ~np.isfinite(rigid), observed_flow, rigid)
        # no depth, no outputs: where the network has none (outside a crop window), neither
        # flow nor mask is claimed
        unknown = ~np.isfinite(network_depth)
        flow_full[unknown] = np.nan
        moving_full &= ~unknown
        clock.mark('outputs')
        return GeometryOutput(depth_full.astype(np.float32), sigma_full,
                              flow_full.astype(np.float32), moving_full, observed, prior_sigma,
                              reason, clock.timings)

    # -- steps -------------------------------------------------------------------------------

    def _untrusted(self, previous: _Previous, small: np.ndarray, depth_small: np.ndarray,
                   network_depth: np.ndarray, network_mask: np.ndarray | None,
                   prior: np.ndarray) -> GeometryOutput:
        """A frame whose motion is a guess: nothing measured, nothing kept."""
        self.filter.reset()
        self._previous = _Previous(small, depth_small)
        self.counts['motion not trusted'] += 1
        full = network_depth.shape
        scale = np.float32([full[1] / small.shape[1], full[0] / small.shape[0]])
        flow = _resize(self._flow.flow(previous.gray, small), full, cv2.INTER_LINEAR) * scale
        unknown = ~np.isfinite(network_depth)
        flow[unknown] = np.nan
        moving = (np.zeros(full, bool) if network_mask is None
                  else network_mask.astype(bool) & ~unknown)
        return GeometryOutput(network_depth, prior, flow, moving,
                              reason='motion not trusted')

    def prefetch(self, gray: np.ndarray, K: np.ndarray) -> None:
        """Start this frame's image-only work (the consistency check's DIS field) in a
        worker thread, so that it runs while the caller runs the networks; `step` on the same
        frame collects it. OpenCV releases the GIL while it works."""
        if self._previous is None:
            return
        work_shape, _, _ = self._working_grid(gray.shape, K)
        small = _resize(gray, work_shape, cv2.INTER_AREA)
        if small.shape != self._previous.gray.shape:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix='rmdepth_dis')
        self._pending = (small, self._pool.submit(self._flow.forward_field,
                                                  self._previous.gray, small))

    def _take_forward(self, small: np.ndarray) -> np.ndarray | None:
        """The prefetched forward field of this frame, or None (then computed in place)."""
        pending, self._pending = self._pending, None
        if pending is None or pending[0].shape != small.shape or not np.array_equal(
                pending[0], small):
            return None
        return pending[1].result()

    def _belief(self, network: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(inverse depth, its 1-sigma) believed before this frame's measurements: the
        filter's where it has a belief, else the network's with the prior's sigma."""
        with np.errstate(divide='ignore', invalid='ignore'):
            net_rho = 1.0 / network
        if self.filter.rho is None:
            return net_rho, self.options.prior_sigma * net_rho
        known = np.isfinite(self.filter.rho)
        return (np.where(known, self.filter.rho, net_rho),
                np.where(known, np.sqrt(self.filter.var), self.options.prior_sigma * net_rho))

    def _scale_disagrees(self, tri, measured: np.ndarray) -> bool:
        """The median ratio of this frame's inverse depths to the propagated belief, over the
        pixels the belief is sure of, is further than scale_reset (log) from 1."""
        belief, var = self.filter.rho, self.filter.var
        if belief is None:
            return False
        with np.errstate(invalid='ignore'):
            sure = measured & np.isfinite(belief) & (np.sqrt(var) < 0.1 * belief)
        if sure.mean() < self.options.min_measured:
            return False
        ratio = float(np.median(tri.inverse_depth[sure] / belief[sure]))
        return abs(np.log(ratio)) > self.options.scale_reset

    def _inconsistent(self, tri, sigma_px: np.ndarray, network: np.ndarray,
                      measured: np.ndarray) -> np.ndarray:
        """This frame's measurements that its own scale field cannot explain
        (moving_mask.depth_inconsistency)."""
        with np.errstate(divide='ignore', invalid='ignore'):
            measured_depth = np.where(measured, 1.0 / tri.inverse_depth, np.nan)
            relative = tri.sigma(sigma_px) / tri.inverse_depth
            correction = np.log(measured_depth / network)
        if measured.mean() < self.options.min_measured:
            return np.zeros(measured.shape, bool)
        # a wide field: a car's own pixels must be a minority where it is spread
        wide = replace(self.options.densify, sigma=self.options.mask.inconsistency_radius)
        field, _, _ = scale_field(network, measured_depth, relative, None, wide)
        return depth_inconsistency(correction, relative, field, measured, self.options.mask)

    def _fuse(self, network: np.ndarray, moving: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, float, float | None]:
        """(depth, relative sigma, observed share, measured prior sigma) on the working grid:
        the network's depth, scale-corrected from the filter, fused with it per pixel."""
        opt = self.options
        rho, var = self.filter.rho, self.filter.var
        sigma = np.full(network.shape, opt.prior_sigma, np.float32)
        if rho is None:
            return network, sigma, 0.0, None
        with np.errstate(divide='ignore', invalid='ignore'):
            relative = np.sqrt(var) / rho
            have = np.isfinite(rho) & (rho > 0) & np.isfinite(relative) & ~moving
            have &= np.isfinite(network)
            confident = have & (relative < 0.1)
        observed = float(have.mean())
        if confident.mean() < opt.min_measured:
            return network, sigma, observed, None
        log_ratio = np.log(network[confident] * rho[confident])
        offset = float(np.median(log_ratio))
        prior_sigma = float(np.clip(1.4826 * np.median(np.abs(log_ratio - offset)),
                                    opt.min_prior_sigma, opt.max_prior_sigma))
        if opt.prior_gate > 0:
            # a belief far outside the network's measured spread is more likely a mover seen
            # as static (traffic along the epipolar lines) than a network that wrong
            with np.errstate(divide='ignore', invalid='ignore'):
                have &= np.abs(np.log(network * rho) - offset) <= opt.prior_gate * prior_sigma
        with np.errstate(divide='ignore', invalid='ignore'):
            measured = np.where(have, 1.0 / rho, np.nan)
            field, density, used = scale_field(network, measured, np.where(have, relative,
                                                                              np.nan),
                                               moving, opt.densify)
        corrected = network * np.exp(field)
        # the corrected prior's relative error shrinks where measurements support the field
        support = density / (density + opt.densify.prior_weight)
        prior_rel = prior_sigma * (1.0 - 0.5 * support)
        # per-pixel fusion in log depth (relative errors add like log errors)
        with np.errstate(divide='ignore', invalid='ignore'):
            w_prior = 1.0 / np.square(prior_rel)
            w_meas = np.where(have, 1.0 / np.square(relative), 0.0)
            log_depth = (w_prior * np.log(corrected) + w_meas * np.log(np.where(
                have, measured, 1.0))) / (w_prior + w_meas)
            fused = np.exp(log_depth)
            sigma = 1.0 / np.sqrt(w_prior + w_meas)
        fused = np.where(np.isfinite(fused), fused, network).astype(np.float32)
        return fused, sigma.astype(np.float32), observed, prior_sigma

    def _working_grid(self, shape: tuple[int, int], K: np.ndarray
                      ) -> tuple[tuple[int, int], np.ndarray, np.ndarray]:
        height, width = shape
        scale = min(1.0, self.options.max_width / width)
        work = (max(int(round(height * scale)), 8), max(int(round(width * scale)), 8))
        key = (shape, np.asarray(K, np.float64).tobytes())
        if self._grid is None or self._grid[0] != key:
            sx, sy = work[1] / width, work[0] / height
            # pixel centres map as (u + 0.5) s - 0.5 (docs/conventions.md)
            S = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1.0]])
            K_work = S @ np.asarray(K, np.float64)
            self._grid = (key, K_work, pixel_rays(work, K_work))
        return work, self._grid[1], self._grid[2]


def network_mask_small(mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    if mask is None:
        return None
    return _resize(mask.astype(np.uint8), shape, cv2.INTER_NEAREST).astype(bool)


class _Clock:
    """Milliseconds between marks, by stage."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def mark(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + (now - self._last) * 1e3
        self._last = now


def _resize(array: np.ndarray, shape: tuple[int, int], interpolation: int) -> np.ndarray:
    if array.shape[:2] == tuple(shape):
        return array
    return cv2.resize(array, (shape[1], shape[0]), interpolation=interpolation)


def _resize_depth(depth: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Depth resized as disparity (keeps edges), NaN kept as NaN."""
    if depth.shape == tuple(shape):
        return depth.astype(np.float32, copy=False)
    with np.errstate(divide='ignore', invalid='ignore'):
        disparity = np.where(np.isfinite(depth) & (depth > 0), 1.0 / depth, 0).astype(np.float32)
    small = cv2.resize(disparity, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    with np.errstate(divide='ignore'):
        return np.where(small > 0, 1.0 / small, np.nan).astype(np.float32)


def _corrected(network_full: np.ndarray, depth: np.ndarray, network: np.ndarray) -> np.ndarray:
    """The full-grid network depth times the working grid's correction depth / network,
    upsampled (the correction is smooth where it was spread, and sharp edges stay the
    network's)."""
    with np.errstate(divide='ignore', invalid='ignore'):
        correction = np.log(depth / network)
    correction = np.where(np.isfinite(correction), correction, 0).astype(np.float32)
    return network_full * np.exp(_resize(correction, network_full.shape, cv2.INTER_LINEAR))


def _gradient(gray: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    return np.hypot(gx, gy) / 8.0


def _rigid_flow(depth: np.ndarray, K: np.ndarray, prev_from_cur: np.ndarray,
                rays: np.ndarray | None) -> np.ndarray:
    """(H, W, 2) float32 flow of a static scene at `depth` (current grid, model units) for the
    camera motion T_prev_cur; NaN where the depth is unknown or the point is behind the
    previous camera. With no finite depth anywhere, zeros (DIS then starts from nothing)."""
    if rays is None:
        rays = pixel_rays(depth.shape, K)
    T = np.asarray(prev_from_cur, np.float64)
    R, t = T[:3, :3].astype(np.float32), T[:3, 3].astype(np.float32)
    X = np.einsum('ij,jhw->ihw', R, rays * depth[None]) + t[:, None, None]
    fx, fy, cx, cy = (np.float32(K[0, 0]), np.float32(K[1, 1]), np.float32(K[0, 2]),
                      np.float32(K[1, 2]))
    with np.errstate(divide='ignore', invalid='ignore'):
        u_prev = fx * X[0] / X[2] + cx
        v_prev = fy * X[1] / X[2] + cy
    u = rays[0] * fx + cx
    v = rays[1] * fy + cy
    flow = np.stack([u - u_prev, v - v_prev], axis=-1).astype(np.float32)
    flow[~(X[2] > 0)] = np.nan
    return flow
