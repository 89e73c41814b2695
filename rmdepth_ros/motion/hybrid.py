"""Hybrid camera motion: image geometry for rotation and direction, the network's depth for scale.

numpy / OpenCV only. Each frame (`HybridMotion.step`):

1. Corners of the previous image are tracked into the current one (KLT, forward-backward
   check); tracks on moving objects (the network's motion mask, either frame) are dropped.
2. Degenerate geometry falls back to the network's motion, counted by reason: too few tracks,
   a standing camera (the image does not move: the motion is the identity), too little
   parallax once the best-fitting rotation is removed (pure rotation: the translation is the
   network's, the rotation the image's), an essential matrix with too few
   inliers, a geometric motion that disagrees with the network's prior (rotation or direction),
   or no usable depth for the scale.
3. Otherwise the essential matrix (RANSAC) gives the rotation and the translation's direction,
   the translation's sign agreeing with the network's when cheirality is undecided.
4. The scale comes from the tracked points themselves: each inlier triangulated with a unit
   translation has a depth in both frames; the robust (median) ratio of the network's depth
   to that depth, pooled over both frames, is the translation's length in model units. The
   network's own per-frame translation length is not used: it is noisier than constant speed.
   The length is then smoothed over frames (`scale_smoothing`), since the depth's scale wobbles
   a few per cent from frame to frame while a camera's speed changes slowly.

The result carries a per-frame covariance from the geometry: rotation and direction errors from
the inliers' residuals and count, the length's error from the spread of the depth ratios.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import cv2
import numpy as np

from rmdepth_ros.geometry.rotations import rotation_angle_deg
from rmdepth_ros.motion.two_view import (
    decompose_essential,
    inverse_motion,
    track_corners,
    triangulate,
)

MOTION_SOURCES = ('network', 'hybrid')
DEFAULT_MOTION_SOURCE = 'hybrid'  # the Estimator's, node's and rmdepth-eval's default
_METHODS = {'ransac': cv2.RANSAC, 'magsac': cv2.USAC_MAGSAC, 'accurate': cv2.USAC_ACCURATE,
            'lmeds': cv2.LMEDS}
#: why a frame fell back to the network's motion (diagnostics count each)
FALLBACK_REASONS = ('few tracks', 'pure rotation', 'few inliers', 'disagrees with network',
                    'no depth for scale')


@dataclass(frozen=True)
class HybridOptions:
    """Thresholds, in pixels of the tracking image unless stated.

    max_corners: corners tracked per frame. min_tracks / min_inliers: fewer -> fallback.
    ransac_px: the essential matrix's RANSAC threshold. standing_px: median track length below
    which the camera stands still. parallax_px: median de-rotated track length below which the
    direction is unobservable (pure rotation). max_rotation_gap_deg / max_direction_gap_deg:
    the gate against the network's motion. scale_smoothing: weight of the previous frame's
    length in the smoothed length (0 = none); fast_smoothing: that of a faster average kept
    beside it: when the two part by more than scale_switch (log ratio), the speed changed and
    the fast one is taken. direction_smoothing: likewise for the direction.
    max_direction_jump_deg: a direction further than max_direction_gap_deg from the network's
    is still accepted within this of the previous frame's. A disagreeing network is overruled
    when its motion explains the tracks worse than prior_residual_factor x the geometry's
    median Sampson distance + prior_residual_px. method: the essential matrix's
    robust estimator. mask_margin_px: growth of the moving-object mask; a mask covering more
    than max_moving_fraction of the image is not trusted (ignored).
    """

    max_corners: int = 800
    min_tracks: int = 40
    min_inliers: int = 30
    ransac_px: float = 0.5
    standing_px: float = 0.25
    parallax_px: float = 0.6
    max_rotation_gap_deg: float = 1.5
    max_direction_gap_deg: float = 8.0
    max_direction_jump_deg: float = 5.0
    prior_residual_factor: float = 2.0
    prior_residual_px: float = 0.5
    scale_smoothing: float = 0.9
    fast_smoothing: float = 0.5
    scale_switch: float = 0.4
    mask_margin_px: int = 4
    max_moving_fraction: float = 0.5
    method: str = 'accurate'
    direction_smoothing: float = 0.5


@dataclass
class HybridResult:
    """One frame's motion and how it was obtained.

    motion: (4, 4) `T_prev_cur`, model units. source: 'geometry', 'standing' or 'network'.
    reason: why it fell back to the network (one of FALLBACK_REASONS), else None.
    tracks, inliers: counts. sigma_translation: (3,) 1-sigma, model units, camera frame.
    sigma_rotation: 1-sigma, radians (each axis).
    """

    motion: np.ndarray
    source: str
    reason: str | None = None
    tracks: int = 0
    inliers: int = 0
    sigma_translation: np.ndarray | None = None
    sigma_rotation: float | None = None


@dataclass
class _Frame:
    gray: np.ndarray       # (H, W) uint8 tracking image
    depth: np.ndarray      # (h, w) network depth, model units
    moving: np.ndarray | None  # (H, W) uint8, 255 where tracks are not started


@dataclass
class HybridMotion:
    """Frame-by-frame hybrid motion (module docstring). Feed every frame with `step`; call
    `reset` where the estimator resets its temporal state.

    to_depth: (2, 3) affine map from tracking-image pixels to depth-map pixels (identity when
    both grids coincide; set per call of `step`).
    """

    options: HybridOptions = field(default_factory=HybridOptions)
    counts: Counter = field(default_factory=Counter)
    _previous: _Frame | None = None
    _length: float | None = None
    _fast: float | None = None
    _direction: np.ndarray | None = None

    def reset(self) -> None:
        self._previous = None
        self._length = self._direction = None

    def step(self, gray: np.ndarray, K: np.ndarray, depth: np.ndarray,
             network_motion: np.ndarray | None, moving: np.ndarray | None = None,
             to_depth: np.ndarray | None = None) -> HybridResult | None:
        """This frame's `T_prev_cur`, or None on the first frame (nothing to compare with).

        gray: (H, W) uint8 tracking image; K: its (3, 3) intrinsics. depth: (h, w) the
        network's depth of this frame, model units, NaN invalid. network_motion: (4, 4) the
        network's `T_prev_cur` (prior and fallback; None on the first frame). moving: (H, W)
        bool moving-object mask of this frame on the tracking grid, or None. to_depth: see the
        class docstring.
        """
        grown = None
        if moving is not None and 0 < moving.mean() <= self.options.max_moving_fraction:
            size = 2 * self.options.mask_margin_px + 1
            grown = cv2.dilate(moving.astype(np.uint8) * 255, np.ones((size, size), np.uint8))
        previous, self._previous = self._previous, _Frame(gray, depth, grown)
        if previous is None or network_motion is None or previous.gray.shape != gray.shape:
            self._length = None
            return None
        A = np.array([[1.0, 0, 0], [0, 1.0, 0]]) if to_depth is None else to_depth
        result = self._geometry(previous, gray, np.ascontiguousarray(K, np.float64), depth,
                                np.asarray(network_motion, np.float64), A)
        self.counts[result.reason or result.source] += 1
        if result.source == 'standing':
            self._direction = None
        return result

    # -- steps -------------------------------------------------------------------------------

    def _geometry(self, previous: _Frame, gray: np.ndarray, K: np.ndarray, depth: np.ndarray,
                  prior: np.ndarray, A: np.ndarray) -> HybridResult:
        opt = self.options
        p0, p1 = track_corners(previous.gray, gray, opt.max_corners,
                               mask=None if previous.moving is None
                               else cv2.bitwise_not(previous.moving))
        if self._previous.moving is not None and len(p1):
            rows = np.clip(np.round(p1[:, 1]).astype(int), 0, gray.shape[0] - 1)
            cols = np.clip(np.round(p1[:, 0]).astype(int), 0, gray.shape[1] - 1)
            keep = self._previous.moving[rows, cols] == 0
            p0, p1 = p0[keep], p1[keep]
        tracks = len(p0)
        if tracks < opt.min_tracks:
            return self._fallback(prior, 'few tracks', tracks)
        if np.median(np.linalg.norm(p1 - p0, axis=1)) < opt.standing_px:
            return HybridResult(np.eye(4), 'standing', None, tracks, tracks,
                                np.full(3, 1e-3), 1e-4)
        R_only = _rotation_fit(p0, p1, K)
        if np.median(_derotated_parallax(R_only, p0, p1, K)) < opt.parallax_px:
            # the translation is unobservable: the network's, with the image's rotation
            motion = prior.copy()
            motion[:3, :3] = R_only.T
            return HybridResult(motion, 'network', 'pure rotation', tracks, tracks)
        essential, inlier_mask = cv2.findEssentialMat(p0, p1, K, method=_METHODS[opt.method],
                                                      prob=0.999, threshold=opt.ransac_px)
        if essential is None or essential.shape[0] < 3:
            return self._fallback(prior, 'few inliers', tracks)
        keep = inlier_mask.ravel().astype(bool)
        if keep.sum() < opt.min_inliers:
            return self._fallback(prior, 'few inliers', tracks, int(keep.sum()))
        tracked = p0, p1
        p0, p1 = p0[keep], p1[keep]
        R_prior = prior[:3, :3].T                         # rotation of T_cur_prev
        t_prior = -R_prior @ prior[:3, 3]                 # its translation
        R, t = decompose_essential(essential[:3], p0, p1, K, t_prior)
        inliers = len(p0)
        disagrees = rotation_angle_deg(R @ R_prior.T) > opt.max_rotation_gap_deg or (
            _angle_deg(t, t_prior) > opt.max_direction_gap_deg and (
                self._direction is None
                or _angle_deg(t, self._direction) > opt.max_direction_jump_deg))
        if disagrees:
            # the tracks decide: the network's motion stands unless it explains them much
            # worse than the geometry's (median Sampson distance over every track)
            residual = np.median(_sampson(R, t, *tracked, K))
            residual_prior = np.median(_sampson(R_prior, t_prior, *tracked, K))
            if np.sqrt(residual_prior) <= (opt.prior_residual_factor * np.sqrt(residual)
                                            + opt.prior_residual_px):
                return self._fallback(prior, 'disagrees with network', tracks, inliers)
            self.counts['network overruled'] += 1
        ratios = _depth_ratios(R, t, p0, p1, K, previous.depth, depth, A)
        if len(ratios) < opt.min_inliers // 2:
            return self._fallback(prior, 'no depth for scale', tracks, inliers)
        length = float(np.median(ratios))
        raw = length
        if self._length is not None and opt.scale_smoothing > 0:
            length = opt.scale_smoothing * self._length + (1 - opt.scale_smoothing) * length
            # a fast average beside the slow one: when they part by more than scale_switch,
            # the speed really changed (a stop, a start) and the slow one would lag for
            # seconds: it is reset to the fast one
            fast = opt.fast_smoothing * self._fast + (1 - opt.fast_smoothing) * raw
            if abs(np.log(fast / length)) > opt.scale_switch:
                length = fast
            self._fast = fast
        else:
            self._fast = raw
        self._length = length
        if self._direction is not None and opt.direction_smoothing > 0:
            t = opt.direction_smoothing * self._direction + (1 - opt.direction_smoothing) * t
            t = t / np.linalg.norm(t)
        self._direction = t
        motion = inverse_motion(R, t * length)
        return HybridResult(motion, 'geometry', None, tracks, inliers,
                            *_sigmas(R, t, p0, p1, K, ratios, length))

    def _fallback(self, prior: np.ndarray, reason: str, tracks: int, inliers: int = 0
                  ) -> HybridResult:
        """The network's motion; its translation brought to the current smoothed length when
        there is one, since the network's own length has another, noisier scale."""
        motion = prior.copy()
        norm = np.linalg.norm(motion[:3, 3])
        if self._length is not None and norm > 0:
            motion[:3, 3] *= self._length / norm
        return HybridResult(motion, 'network', reason, tracks, inliers)


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle (degrees) between two 3-vectors; 0 when either is zero."""
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    if norms == 0:
        return 0.0
    return float(np.degrees(np.arccos(np.clip(a @ b / norms, -1.0, 1.0))))


def _rotation_fit(p0: np.ndarray, p1: np.ndarray, K: np.ndarray) -> np.ndarray:
    """The rotation R (3, 3) that best maps the rays of p0 onto those of p1 (X_1 = R X_0 for a
    camera that only turns): Kabsch on unit bearing vectors."""
    Kinv = np.linalg.inv(K)
    b0 = np.c_[p0, np.ones(len(p0))] @ Kinv.T
    b1 = np.c_[p1, np.ones(len(p1))] @ Kinv.T
    b0 /= np.linalg.norm(b0, axis=1, keepdims=True)
    b1 /= np.linalg.norm(b1, axis=1, keepdims=True)
    U, _, Vt = np.linalg.svd(b1.T @ b0)
    return U @ np.diag([1.0, 1.0, np.linalg.det(U @ Vt)]) @ Vt


def _derotated_parallax(R: np.ndarray, p0: np.ndarray, p1: np.ndarray, K: np.ndarray
                        ) -> np.ndarray:
    """(N,) pixels: how far each current point is from where the rotation alone puts it."""
    H = K @ R @ np.linalg.inv(K)
    moved = np.c_[p0, np.ones(len(p0))] @ H.T
    return np.linalg.norm(moved[:, :2] / moved[:, 2:] - p1, axis=1)


def _sample(depth: np.ndarray, points: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Nearest-pixel depth (N,) at tracking-image points (N, 2) mapped by A; NaN outside."""
    mapped = points @ A[:, :2].T + A[:, 2]
    cols, rows = np.round(mapped[:, 0]).astype(int), np.round(mapped[:, 1]).astype(int)
    inside = (cols >= 0) & (cols < depth.shape[1]) & (rows >= 0) & (rows < depth.shape[0])
    values = np.full(len(points), np.nan)
    values[inside] = depth[rows[inside], cols[inside]]
    return values


def _depth_ratios(R: np.ndarray, t: np.ndarray, p0: np.ndarray, p1: np.ndarray, K: np.ndarray,
                  depth0: np.ndarray, depth1: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Network depth / triangulated depth (unit translation) of the inliers, both frames."""
    X0 = triangulate(R, t, p0, p1, K)
    z0, z1 = X0[:, 2], (X0 @ R.T + t)[:, 2]
    ratios = []
    for z, net in ((z0, _sample(depth0, p0, A)), (z1, _sample(depth1, p1, A))):
        with np.errstate(invalid='ignore', divide='ignore'):
            ratio = net / z
        ratios.append(ratio[np.isfinite(ratio) & (z > 0) & (ratio > 0)])
    # far points have unreliable triangulated depth: keep the nearer half of each frame's
    ratios = np.concatenate(ratios)
    return ratios


def _sampson(R: np.ndarray, t: np.ndarray, p0: np.ndarray, p1: np.ndarray, K: np.ndarray
             ) -> np.ndarray:
    """(N,) squared Sampson distances (px^2) of pixel pairs to the epipolar geometry of
    X_1 = R X_0 + t."""
    tx = np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]])
    Kinv = np.linalg.inv(K)
    F = Kinv.T @ tx @ R @ Kinv
    x0, x1 = np.c_[p0, np.ones(len(p0))], np.c_[p1, np.ones(len(p1))]
    Fx0, Ftx1 = x0 @ F.T, x1 @ F
    algebraic = np.sum(x1 * Fx0, axis=1)
    return algebraic ** 2 / (Fx0[:, 0] ** 2 + Fx0[:, 1] ** 2 + Ftx1[:, 0] ** 2
                             + Ftx1[:, 1] ** 2 + 1e-12)


def _sigmas(R: np.ndarray, t: np.ndarray, p0: np.ndarray, p1: np.ndarray, K: np.ndarray,
            ratios: np.ndarray, length: float) -> tuple[np.ndarray, float]:
    """(translation 1-sigma (3,) model units, rotation 1-sigma radians) from the geometry.

    Residual: the Sampson distance of the inliers to the essential matrix of (R, t). Rotation
    and direction errors shrink with the square root of the inlier count; the length's error
    is the depth ratios' MAD over its square root (relative), plus a 1 % floor.
    """
    # px, with a floor for KLT's own error
    pixel = float(np.sqrt(np.mean(_sampson(R, t, p0, p1, K)))) + 0.05
    count = np.sqrt(len(p0))
    sigma_rotation = pixel / K[0, 0] / count
    sigma_direction = 10.0 * sigma_rotation  # direction is an order less observable than R
    mad = float(np.median(np.abs(ratios - np.median(ratios)))) * 1.4826
    sigma_length = length * (0.01 + mad / max(np.median(ratios), 1e-9) / np.sqrt(len(ratios)))
    lateral = length * sigma_direction
    sigma = np.full(3, lateral)
    sigma += np.abs(t) * max(sigma_length - lateral, 0.0)  # along the direction: the length
    return sigma, float(sigma_rotation)
