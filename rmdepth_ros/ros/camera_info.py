"""sensor_msgs/CameraInfo <-> intrinsics, and intrinsics scaling (docs/conventions.md)."""

import array
from typing import Any

import numpy as np

from rmdepth_ros.ros.message_fields import ConversionError, copy_header, message_class


def camera_info_to_intrinsics(msg: Any) -> tuple[np.ndarray, tuple[int, int]]:
    """Read the intrinsic matrix K and the image size from a CameraInfo.

    K (not P) is used: the estimator takes the image as published. Fields are read by name
    (``k``, or ROS 1 style ``K``), so rclpy and rosbags messages both work.

    Returns:
        K: (3, 3) float64, pixels, OpenCV pixel-centre convention.
        size: (width, height) in pixels.

    Raises:
        ConversionError: K all zeros (uncalibrated camera), not finite, fx or fy <= 0, last row
            not [0, 0, 1], or width / height zero.
    """
    k_field = getattr(msg, 'k', None)
    if k_field is None:
        k_field = getattr(msg, 'K', None)
    K = np.asarray(k_field if k_field is not None else [], dtype=np.float64).reshape(-1)
    if K.size != 9:
        raise ConversionError(f'camera_info K has {K.size} values, expected 9')
    K = K.reshape(3, 3).copy()
    width, height = int(msg.width), int(msg.height)
    if not np.all(np.isfinite(K)):
        raise ConversionError(f'camera_info K is not finite: {K.reshape(-1).tolist()}')
    if not np.any(K):
        raise ConversionError('camera_info K is all zeros (camera not calibrated)')
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ConversionError(
            f'camera_info focal lengths must be positive, got fx={K[0, 0]}, fy={K[1, 1]}')
    if not np.allclose(K[2], [0.0, 0.0, 1.0]):
        raise ConversionError(f'camera_info K last row must be [0, 0, 1], got {K[2].tolist()}')
    if width <= 0 or height <= 0:
        raise ConversionError(f'camera_info image size is empty ({width}x{height})')
    return K, (width, height)


def intrinsics_to_camera_info(K: np.ndarray, width: int, height: int, header: Any | None = None,
                              msg_cls: Any | None = None) -> Any:
    """Build a CameraInfo for an undistorted image (e.g. the depth image).

    K is 3x3 in pixels; P = [K | 0], R = identity, distortion 'plumb_bob' with five zeros.

    Args:
        header: copied verbatim (stamp, frame_id) - pass the depth image's header.
        msg_cls: CameraInfo class; default sensor_msgs.msg.CameraInfo.
    """
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3):
        raise ConversionError(f'K must be (3, 3), got {K.shape}')
    msg = message_class(msg_cls, 'sensor_msgs', 'CameraInfo')()
    copy_header(msg.header, header)
    msg.width, msg.height = int(width), int(height)
    msg.distortion_model = 'plumb_bob'
    msg.d = array.array('d', [0.0] * 5)
    msg.k = K.reshape(9).copy()
    msg.r = np.eye(3).reshape(9)
    msg.p = np.hstack([K, np.zeros((3, 1))]).reshape(12)
    return msg


def scale_intrinsics_np(K: np.ndarray, from_wh: tuple[int, int],
                        to_wh: tuple[int, int]) -> np.ndarray:
    """Intrinsics of an image resized from ``from_wh`` to ``to_wh`` (both (width, height)).

    Pixel-centre convention (docs/conventions.md): fx' = fx * sx, cx' = (cx + 0.5) * sx - 0.5
    with sx = W'/W (same for y), which matches ``cv2.resize``. Skew scales with sx.

    Returns:
        (3, 3) float64; K is not modified.
    """
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3):
        raise ConversionError(f'K must be (3, 3), got {K.shape}')
    (w0, h0), (w1, h1) = from_wh, to_wh
    if min(w0, h0, w1, h1) <= 0:
        raise ConversionError(f'image sizes must be positive, got {from_wh} -> {to_wh}')
    sx, sy = w1 / w0, h1 / h0
    scaled = K.copy()
    scaled[0, 0] *= sx
    scaled[0, 1] *= sx
    scaled[1, 1] *= sy
    scaled[0, 2] = (K[0, 2] + 0.5) * sx - 0.5
    scaled[1, 2] = (K[1, 2] + 0.5) * sy - 0.5
    return scaled
