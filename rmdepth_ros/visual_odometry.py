"""Camera motion -> odometry of the robot base: pose, twist and covariance (numpy, no ROS).

Each frame the estimator gives `T_prev_cur`, the current camera pose in the previous camera's
optical frame (docs/conventions.md), in model units. With the static extrinsic `T_base_cam`
(`X_base = T_base_cam @ X_cam`) the base moves by

    T_prevbase_curbase = T_base_cam @ T_prev_cur @ inv(T_base_cam)

and the pose accumulates as `T_odom_base(t) = T_odom_base(t-1) @ T_prevbase_curbase` with the
translation multiplied by the scale in use. Frames without motion (the first frame, the first
after a reset, an invalid motion) leave the pose where it is - odometry never jumps - and
inflate its covariance, since the motion across the gap is unknown.

Covariance model (diagonal; x, y, z in metres, rotations about x, y, z in radians): per frame
the translation has a 1-sigma error of `relative_sigma * |t| + 2 mm` and the rotation
`0.1 * |angle| + 0.002 rad`, or, when the motion comes with its own errors (the hybrid motion
source's, from the geometry: inliers and residuals), those, per axis; the pose covariance is
their running sum (a random walk). A reset adds RESET_POSE_VARIANCE. Twist covariance is the
frame's error over dt, and large on frames without an increment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRANSLATION_FLOOR = 0.002   # m, 1-sigma per frame
ROTATION_RELATIVE = 0.1
ROTATION_FLOOR = 0.002      # rad, 1-sigma per frame
GEOMETRY_FLOOR = 2e-4       # m and rad: floor of the errors a motion brings with it
RESET_POSE_VARIANCE = np.array([1.0, 1.0, 1.0, 0.1, 0.1, 0.1])   # m^2, rad^2
UNKNOWN_TWIST_VARIANCE = np.array([1e2, 1e2, 1e2, 1e1, 1e1, 1e1])  # (m/s)^2, (rad/s)^2


@dataclass(frozen=True)
class OdometryEstimate:
    """Odometry after one frame.

    T_odom_base: (4, 4) pose of the base in the odometry frame, metres (published scale).
    linear: (3,) m/s, angular: (3,) rad/s, both in the base frame (nav_msgs/Odometry twist).
    pose_variance, twist_variance: (6,) diagonals (x, y, z, rot x, rot y, rot z).
    moved: True if this frame's motion was integrated.
    """

    T_odom_base: np.ndarray
    linear: np.ndarray
    angular: np.ndarray
    pose_variance: np.ndarray
    twist_variance: np.ndarray
    moved: bool


def rotation_vector(R: np.ndarray) -> np.ndarray:
    """Axis * angle (radians) of a 3x3 rotation (the SO(3) logarithm)."""
    cos = np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0)
    angle = float(np.arccos(cos))
    axis = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
    if angle < 1e-6:
        return axis / 2.0  # sin(angle) ~ angle
    if np.pi - angle < 1e-3:  # near 180 degrees: take the axis from the symmetric part
        values, vectors = np.linalg.eigh((R + R.T) / 2.0)
        return vectors[:, int(np.argmax(values))] * angle
    return axis * (angle / (2.0 * np.sin(angle)))


def is_rigid_motion(T: np.ndarray | None) -> bool:
    """True for a finite 4x4 rigid transform (orthonormal rotation, det +1)."""
    if T is None:
        return False
    T = np.asarray(T, dtype=np.float64)
    if T.shape != (4, 4) or not np.all(np.isfinite(T)):
        return False
    R = T[:3, :3]
    return bool(np.linalg.norm(R.T @ R - np.eye(3)) < 1e-3 and np.linalg.det(R) > 0)


class OdometryIntegrator:
    """Accumulates camera motion into the pose of the base (see the module docstring).

    T_base_cam: (4, 4) camera optical frame in the base frame; None = they coincide.
    """

    def __init__(self, T_base_cam: np.ndarray | None = None) -> None:
        self.T_base_cam = np.eye(4) if T_base_cam is None else np.asarray(T_base_cam, float)
        self.T_cam_base = np.linalg.inv(self.T_base_cam)
        self.T_odom_base = np.eye(4)
        self.pose_variance = np.zeros(6)
        self._last_stamp: float | None = None

    def update(self, motion: np.ndarray | None, timestamp: float, scale: float = 1.0,
               relative_sigma: float = 0.05, reset: bool = False,
               motion_sigma: tuple[np.ndarray, float] | None = None) -> OdometryEstimate:
        """Integrate one frame.

        motion: (4, 4) `T_prev_cur` in model units, or None (first frame / after a reset).
        timestamp: seconds, the frame's stamp. scale: published units per model unit.
        relative_sigma: 1-sigma relative error of the translation at this scale.
        reset: the temporal state was reset before this frame (tracking lost).
        motion_sigma: (translation 1-sigma (3,) model units, camera axes; rotation 1-sigma,
          radians) of this frame's motion, or None for the model above.
        """
        dt = None if self._last_stamp is None else timestamp - self._last_stamp
        self._last_stamp = timestamp
        first = dt is None
        if reset and not first:
            self.pose_variance = self.pose_variance + RESET_POSE_VARIANCE
        if not is_rigid_motion(motion) or dt is None or dt <= 0:
            if motion is not None and not first:  # motion given but unusable: tracking lost
                self.pose_variance = self.pose_variance + RESET_POSE_VARIANCE
            return self._estimate(np.zeros(3), np.zeros(3), UNKNOWN_TWIST_VARIANCE, False)

        camera_step = np.array(motion, dtype=np.float64)
        camera_step[:3, 3] *= scale
        step = self.T_base_cam @ camera_step @ self.T_cam_base  # T_prevbase_curbase
        pose = self.T_odom_base @ step
        pose[:3, :3] = _orthonormalise(pose[:3, :3])
        self.T_odom_base = pose

        rotation = rotation_vector(step[:3, :3])
        if motion_sigma is None:
            sigma_t = relative_sigma * np.linalg.norm(step[:3, 3]) + TRANSLATION_FLOOR
            sigma_r = ROTATION_RELATIVE * np.linalg.norm(rotation) + ROTATION_FLOOR
            step_variance = np.array([sigma_t ** 2] * 3 + [sigma_r ** 2] * 3)
        else:  # camera axes -> base axes (variances of a diagonal, rotated: |R|^2 weights)
            weights = self.T_base_cam[:3, :3] ** 2
            sigma_t = np.asarray(motion_sigma[0], float) * scale
            sigma_t = np.sqrt(weights @ sigma_t ** 2 + GEOMETRY_FLOOR ** 2)
            sigma_r = max(float(motion_sigma[1]), GEOMETRY_FLOOR)
            step_variance = np.concatenate([sigma_t ** 2, [sigma_r ** 2] * 3])
        self.pose_variance = self.pose_variance + step_variance
        # displacement seen from the current base frame, over the frame interval
        linear = step[:3, :3].T @ step[:3, 3] / dt
        angular = rotation / dt
        return self._estimate(linear, angular, step_variance / dt ** 2, True)

    def _estimate(self, linear: np.ndarray, angular: np.ndarray, twist_variance: np.ndarray,
                  moved: bool) -> OdometryEstimate:
        return OdometryEstimate(self.T_odom_base.copy(), linear, angular,
                                self.pose_variance.copy(), np.asarray(twist_variance, float),
                                moved)


def _orthonormalise(R: np.ndarray) -> np.ndarray:
    """Nearest rotation (SVD): keeps rounding from accumulating over thousands of frames."""
    U, _, Vt = np.linalg.svd(R)
    if np.linalg.det(U @ Vt) < 0:
        U[:, -1] *= -1
    return U @ Vt
