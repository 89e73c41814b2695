"""Which scale the published depth and translation have: training, camera_height or fixed.

Monocular depth and motion are known up to scale. `ScaleTracker` turns the estimator's depth
(in the scale learned from the training data, 'model units') into the published scale:

- `training`: factor 1: model units, the scale the weights learned. Not metres in general:
  self-supervised training on mixed data fixes no metric scale (the shipped weights give about
  47 m per model unit on the synthetic world); metric only if the training data were metric
  and the camera matches the training camera.
- `fixed`: a user factor.
- `camera_height`: metric. Each frame a ground plane is fitted (RANSAC, then least squares) to
  the points of the lower image region whose normal is close to the gravity direction (from the
  base -> camera extrinsic, or the optical y axis); the camera's height above it in model units
  against the known `camera_height` in metres gives one measurement. The published factor is
  the median of the recent measurements (in log space), 'established' once enough frames gave
  one. Until then the user's factor is used and the uncertainty is large.

No ROS here: numpy in, numbers out.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import math

import numpy as np

MODES = ('training', 'camera_height', 'fixed')

# Ground fit: where to look and what counts as a plane (model units are relative to the height).
GROUND_REGION = (0.55, 1.0)     # rows, as fractions of the image height (the lower part)
GROUND_COLUMNS = (0.1, 0.9)     # columns, as fractions of the width (skip the borders)
MAX_POINTS = 2500               # sampled pixels per frame
RANSAC_ITERATIONS = 48
MAX_TILT_DEG = 25.0             # plane normal vs. gravity
INLIER_TOLERANCE = 0.04         # point-to-plane distance, as a fraction of the camera height
MIN_INLIERS = 150
MIN_INLIER_RATIO = 0.35

# Smoothing: median of the last WINDOW measurements; established after MIN_MEASUREMENTS.
WINDOW = 15
MIN_MEASUREMENTS = 5

# 1-sigma relative uncertainty of translation per mode, for the odometry covariance.
RELATIVE_SIGMA = {'fixed': 0.05, 'training': 0.25, 'camera_height': 0.05, 'unknown': 1.0}


@dataclass(frozen=True)
class ScaleState:
    """The scale in use for one frame.

    scale: published units per model unit (metres per model unit when metric).
    established: False while camera_height mode has too few ground measurements.
    relative_sigma: 1-sigma relative error of translations at this scale.
    status: one line for the log and the diagnostics.
    """

    mode: str
    scale: float
    established: bool
    relative_sigma: float
    status: str

    @property
    def units(self) -> str:
        """What one published unit of depth and translation is, in words."""
        if self.mode == 'camera_height' and self.established:
            return 'metres'
        if self.mode == 'training':
            return 'model units (training scale, not metres)'
        return f'model units x {self.scale:g} (not metres unless that factor makes them so)'

    def apply(self, depth: np.ndarray) -> np.ndarray:
        """Depth (H, W) in model units -> published units (float32, NaN kept)."""
        if self.scale == 1.0:
            return depth
        return (depth * np.float32(self.scale)).astype(np.float32, copy=False)


@dataclass(frozen=True)
class GroundFit:
    """A ground plane n . X = height in camera coordinates (n unit, pointing down)."""

    normal: np.ndarray   # (3,) optical frame
    height: float        # distance of the camera centre above the plane, model units
    inliers: int
    inlier_ratio: float


def gravity_in_camera(T_base_cam: np.ndarray | None) -> np.ndarray:
    """Unit 'down' vector in the camera optical frame.

    With a base -> camera extrinsic (`X_base = T @ X_cam`, REP 103 base: z up) down is
    R^T [0, 0, -1]; without one the camera is taken to be level: optical +y.
    """
    if T_base_cam is None:
        return np.array([0.0, 1.0, 0.0])
    down = np.asarray(T_base_cam, dtype=np.float64)[:3, :3].T @ np.array([0.0, 0.0, -1.0])
    return down / np.linalg.norm(down)


def fit_ground(depth: np.ndarray, K: np.ndarray, down: np.ndarray,
               rng: np.random.Generator) -> GroundFit | None:
    """Fit the ground plane under the camera; None when no plane has enough support.

    depth: (H, W) along the optical axis, any consistent unit, NaN / <= 0 invalid.
    K: (3, 3) intrinsics of `depth`. down: (3,) unit gravity direction in the optical frame.
    """
    points = _ground_candidates(depth, K, rng)  # (N, 3)
    if len(points) < MIN_INLIERS:
        return None
    # RANSAC hypotheses, all at once: (I, 3, 3) samples -> (I, 3) normals
    samples = points[rng.integers(0, len(points), size=(RANSAC_ITERATIONS, 3))]
    normals = np.cross(samples[:, 1] - samples[:, 0], samples[:, 2] - samples[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    good = lengths > 1e-12
    normals = normals[good] / lengths[good, None]
    normals *= np.sign(normals @ down)[:, None]            # orient towards the ground
    heights = np.einsum('ij,ij->i', normals, samples[good, 0])
    keep = (normals @ down >= math.cos(math.radians(MAX_TILT_DEG))) & (heights > 0)
    if not np.any(keep):
        return None
    normals, heights = normals[keep], heights[keep]
    distances = np.abs(points @ normals.T - heights)       # (N, I)
    support = (distances < INLIER_TOLERANCE * heights).sum(axis=0)
    best = int(np.argmax(support))
    inliers = distances[:, best] < INLIER_TOLERANCE * heights[best]
    normal, height = _least_squares_plane(points[inliers], normals[best])
    inliers = np.abs(points @ normal - height) < INLIER_TOLERANCE * height
    count = int(inliers.sum())
    ratio = count / len(points)
    if (count < MIN_INLIERS or ratio < MIN_INLIER_RATIO or height <= 0
            or normal @ down < math.cos(math.radians(MAX_TILT_DEG))):
        return None
    return GroundFit(normal=normal, height=float(height), inliers=count, inlier_ratio=ratio)


def _ground_candidates(depth: np.ndarray, K: np.ndarray, rng: np.random.Generator
                       ) -> np.ndarray:
    """Back-projected valid pixels of the lower image region, at most MAX_POINTS: (N, 3)."""
    height, width = depth.shape
    top, bottom = int(GROUND_REGION[0] * height), int(GROUND_REGION[1] * height)
    left, right = int(GROUND_COLUMNS[0] * width), int(GROUND_COLUMNS[1] * width)
    region = depth[top:bottom, left:right]
    rows, cols = np.nonzero(np.isfinite(region) & (region > 0))
    if len(rows) > MAX_POINTS:
        pick = rng.choice(len(rows), size=MAX_POINTS, replace=False)
        rows, cols = rows[pick], cols[pick]
    z = region[rows, cols].astype(np.float64)
    u, v = cols + left, rows + top
    x = (u - K[0, 2] - K[0, 1] * (v - K[1, 2]) / K[1, 1]) / K[0, 0] * z
    y = (v - K[1, 2]) / K[1, 1] * z
    return np.stack([x, y, z], axis=1)


def _least_squares_plane(points: np.ndarray, guess: np.ndarray) -> tuple[np.ndarray, float]:
    """Total-least-squares plane through `points`, normal oriented like `guess`."""
    centre = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - centre, full_matrices=False)
    normal = vt[-1] * np.sign(vt[-1] @ guess)
    return normal, float(normal @ centre)


class ScaleTracker:
    """The scale of each frame, per `mode` (see the module docstring).

    camera_height: metres. factor: the fixed factor, and the prior in camera_height mode.
    T_base_cam: (4, 4) base -> camera optical extrinsic, or None (camera level).
    """

    def __init__(self, mode: str, camera_height: float = 1.65, factor: float = 1.0,
                 T_base_cam: np.ndarray | None = None, seed: int = 0) -> None:
        if mode not in MODES:
            raise ValueError(f"scale_mode must be one of {', '.join(MODES)}, got '{mode}'")
        self.mode = mode
        self.camera_height = float(camera_height)
        self.factor = float(factor)
        self.down = gravity_in_camera(T_base_cam)
        self._rng = np.random.default_rng(seed)
        self._log_scales: deque[float] = deque(maxlen=WINDOW)
        self.last_fit: GroundFit | None = None

    def configure(self, camera_height: float, factor: float) -> None:
        """Change camera_height / factor at run time (camera_height restarts the estimate)."""
        if camera_height != self.camera_height:
            self._log_scales.clear()
        self.camera_height, self.factor = float(camera_height), float(factor)

    def update(self, depth: np.ndarray, K: np.ndarray) -> ScaleState:
        """The scale for this frame; in camera_height mode also one ground measurement.

        depth: (H, W) model units (the estimator's output). K: (3, 3) intrinsics of `depth`.
        """
        if self.mode == 'camera_height':
            self.last_fit = fit_ground(depth, K, self.down, self._rng)
            if self.last_fit is not None:
                self._log_scales.append(math.log(self.camera_height / self.last_fit.height))
        return self.state

    @property
    def state(self) -> ScaleState:
        if self.mode == 'training':
            return ScaleState('training', 1.0, True, RELATIVE_SIGMA['training'],
                              'training scale: model units, not metres (metric only if the '
                              'training data were metric and the camera matches)')
        if self.mode == 'fixed':
            return ScaleState('fixed', self.factor, True, RELATIVE_SIGMA['fixed'],
                              f'fixed factor {self.factor:g}')
        count = len(self._log_scales)
        if count < MIN_MEASUREMENTS:
            return ScaleState('camera_height', self.factor, False, RELATIVE_SIGMA['unknown'],
                              f'camera_height: not established ({count}/{MIN_MEASUREMENTS} '
                              f'ground fits), using factor {self.factor:g}')
        logs = np.asarray(self._log_scales)
        spread = float(np.median(np.abs(logs - np.median(logs))))  # robust, in log units
        scale = float(np.exp(np.median(logs)))
        return ScaleState('camera_height', scale, True,
                          RELATIVE_SIGMA['camera_height'] + spread,
                          f'camera_height: established, {scale:.4g} m per model unit '
                          f'({count} ground fits, camera {self.camera_height:g} m above the '
                          f'ground)')
