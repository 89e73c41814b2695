"""Rigid transforms as ROS messages: quaternions, nav_msgs/Odometry, TransformStamped.

Quaternions are (x, y, z, w), the order of geometry_msgs/Quaternion, normalised with w >= 0.
4x4 transforms map child coordinates into parent coordinates: ``X_parent = T @ X_child``.
"""

from typing import Any

import numpy as np

from rmdepth_ros.ros.message_fields import ConversionError, message_class, set_stamp

# A rotation further than this (Frobenius norm of R^T R - I) from orthonormal is an error;
# closer ones (accumulated rounding in odometry) are projected onto the nearest rotation.
_ROTATION_TOLERANCE = 1e-2


def _nearest_rotation(R: np.ndarray) -> np.ndarray:
    """Project a near-rotation 3x3 matrix onto SO(3) (SVD); error for others."""
    R = np.asarray(R, dtype=np.float64)
    if R.shape != (3, 3) or not np.all(np.isfinite(R)):
        raise ConversionError(f'rotation must be a finite (3, 3) matrix, got {R.tolist()}')
    error = np.linalg.norm(R.T @ R - np.eye(3))
    if error > _ROTATION_TOLERANCE or np.linalg.det(R) <= 0:
        raise ConversionError(
            f'not a rotation matrix (|R^T R - I| = {error:.3g}, det = {np.linalg.det(R):.3g})')
    U, _, Vt = np.linalg.svd(R)
    return U @ Vt


def matrix_to_quaternion(R: np.ndarray) -> np.ndarray:
    """Rotation matrix -> unit quaternion (x, y, z, w) with w >= 0.

    Shepperd's method: the quaternion component of largest magnitude is taken from the
    diagonal and the others from the off-diagonal sums, so no square root of a small number
    (accurate near 180 degrees too). Nearly orthonormal input is projected first.

    Args:
        R: (3, 3) rotation, or (4, 4) transform (its rotation block is used).

    Returns:
        (4,) float64.
    """
    R = np.asarray(R, dtype=np.float64)
    if R.shape == (4, 4):
        R = R[:3, :3]
    m = _nearest_rotation(R)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    largest = int(np.argmax([trace, m[0, 0], m[1, 1], m[2, 2]]))
    if largest == 0:
        w = 0.5 * np.sqrt(1.0 + trace)
        s = 0.25 / w
        q = [(m[2, 1] - m[1, 2]) * s, (m[0, 2] - m[2, 0]) * s, (m[1, 0] - m[0, 1]) * s, w]
    elif largest == 1:
        x = 0.5 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        s = 0.25 / x
        q = [x, (m[0, 1] + m[1, 0]) * s, (m[0, 2] + m[2, 0]) * s, (m[2, 1] - m[1, 2]) * s]
    elif largest == 2:
        y = 0.5 * np.sqrt(1.0 - m[0, 0] + m[1, 1] - m[2, 2])
        s = 0.25 / y
        q = [(m[0, 1] + m[1, 0]) * s, y, (m[1, 2] + m[2, 1]) * s, (m[0, 2] - m[2, 0]) * s]
    else:
        z = 0.5 * np.sqrt(1.0 - m[0, 0] - m[1, 1] + m[2, 2])
        s = 0.25 / z
        q = [(m[0, 2] + m[2, 0]) * s, (m[1, 2] + m[2, 1]) * s, z, (m[1, 0] - m[0, 1]) * s]
    q = np.asarray(q)
    q /= np.linalg.norm(q)
    return -q if q[3] < 0 else q


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Quaternion (x, y, z, w) -> (3, 3) float64 rotation matrix (q is normalised first)."""
    q = np.asarray(q, dtype=np.float64).reshape(-1)
    norm = np.linalg.norm(q) if q.size == 4 else 0.0
    if q.size != 4 or not np.isfinite(norm) or norm < 1e-12:
        raise ConversionError(f'quaternion must be 4 finite values, not all zero, got {q}')
    x, y, z, w = q / norm
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _check_transform(T: np.ndarray) -> np.ndarray:
    T = np.asarray(T, dtype=np.float64)
    if T.shape != (4, 4) or not np.all(np.isfinite(T)):
        raise ConversionError(f'transform must be a finite (4, 4) matrix, got shape {T.shape}')
    return T


def _vector3(values: Any, name: str) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float64).reshape(-1)
    if vector.shape != (3,) or not np.all(np.isfinite(vector)):
        raise ConversionError(f'{name} must be 3 finite values, got {vector.tolist()}')
    return vector


def _covariance36(covariance: Any, name: str) -> np.ndarray:
    """(6,) variances -> diagonal, (6, 6) or (36,) as is; returned row-major (36,) float64.

    Order (x, y, z, rotation about x, y, z): metres^2 and radians^2 (m/s, rad/s for twist).
    """
    cov = np.asarray(covariance, dtype=np.float64)
    if cov.shape == (6,):
        cov = np.diag(cov)
    elif cov.shape == (36,):
        cov = cov.reshape(6, 6)
    if cov.shape != (6, 6) or not np.all(np.isfinite(cov)) or np.any(np.diag(cov) < 0):
        raise ConversionError(
            f'{name} must be (6,) variances or a (6, 6) matrix, finite, with a non-negative '
            f'diagonal; got shape {cov.shape}')
    return cov.reshape(36).copy()


def _fill_pose(pose: Any, T: np.ndarray) -> None:
    """Write a 4x4 transform into a geometry_msgs/Pose or Transform (duck-typed)."""
    position = pose.position if hasattr(pose, 'position') else pose.translation
    orientation = pose.orientation if hasattr(pose, 'orientation') else pose.rotation
    position.x, position.y, position.z = (float(c) for c in T[:3, 3])
    orientation.x, orientation.y, orientation.z, orientation.w = (
        float(c) for c in matrix_to_quaternion(T[:3, :3]))


def make_odometry(header_stamp: Any, odom_frame: str, base_frame: str, T_odom_base: np.ndarray,
                  twist_linear: Any, twist_angular: Any, pose_covariance: Any,
                  twist_covariance: Any, msg_cls: Any | None = None) -> Any:
    """Build a nav_msgs/Odometry: pose of ``base_frame`` in ``odom_frame``, twist in base_frame.

    Args:
        header_stamp: the input image's stamp (Time message, rclpy Time or float seconds).
        T_odom_base: (4, 4) pose, metres, ``X_odom = T @ X_base``.
        twist_linear: (3,) m/s in ``base_frame``.
        twist_angular: (3,) rad/s in ``base_frame``.
        pose_covariance, twist_covariance: (6,) variances (placed on the diagonal) or (6, 6),
            order (x, y, z, rot x, rot y, rot z). Make them large, not zero, when unknown.
        msg_cls: Odometry class; default nav_msgs.msg.Odometry.
    """
    T = _check_transform(T_odom_base)
    msg = message_class(msg_cls, 'nav_msgs', 'Odometry')()
    set_stamp(msg.header.stamp, header_stamp)
    msg.header.frame_id = str(odom_frame)
    msg.child_frame_id = str(base_frame)
    _fill_pose(msg.pose.pose, T)
    msg.pose.covariance = _covariance36(pose_covariance, 'pose_covariance')
    linear = msg.twist.twist.linear
    angular = msg.twist.twist.angular
    linear.x, linear.y, linear.z = (float(c) for c in _vector3(twist_linear, 'twist_linear'))
    angular.x, angular.y, angular.z = (float(c) for c in _vector3(twist_angular, 'twist_angular'))
    msg.twist.covariance = _covariance36(twist_covariance, 'twist_covariance')
    return msg


def make_transform_stamped(stamp: Any, parent: str, child: str, T: np.ndarray,
                           msg_cls: Any | None = None) -> Any:
    """Build a geometry_msgs/TransformStamped ``parent -> child`` (``X_parent = T @ X_child``).

    Args:
        stamp: Time message, rclpy Time or float seconds.
        T: (4, 4) transform, metres.
        msg_cls: TransformStamped class; default geometry_msgs.msg.TransformStamped.
    """
    T = _check_transform(T)
    msg = message_class(msg_cls, 'geometry_msgs', 'TransformStamped')()
    set_stamp(msg.header.stamp, stamp)
    msg.header.frame_id = str(parent)
    msg.child_frame_id = str(child)
    _fill_pose(msg.transform, T)
    return msg
