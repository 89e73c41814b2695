"""sensor_msgs/Image and CompressedImage <-> numpy arrays (a cv_bridge for this package).

Decoders read messages by their fields (rclpy, rosbags or any duck-typed object) and return
views of the message memory wherever the layout allows; builders take the class lazily from
sensor_msgs.msg (or ``msg_cls``) and copy the input image's header verbatim.
"""

from typing import Any, NamedTuple

import cv2
import numpy as np

from rmdepth_ros.opencv_images import decoded_to_rgb8
from rmdepth_ros.ros.message_fields import (
    MACHINE_IS_BIGENDIAN,
    ConversionError,
    bytes_view,
    copy_header,
    message_class,
    set_data,
)


class PixelFormat(NamedTuple):
    """Memory layout of one encoding: numpy scalar type and channels per pixel."""

    dtype: type
    channels: int


#: Encodings understood by :func:`image_to_array` and :func:`array_to_image`.
ENCODINGS: dict[str, PixelFormat] = {
    'rgb8': PixelFormat(np.uint8, 3),
    'bgr8': PixelFormat(np.uint8, 3),
    'rgba8': PixelFormat(np.uint8, 4),
    'bgra8': PixelFormat(np.uint8, 4),
    'mono8': PixelFormat(np.uint8, 1),
    'mono16': PixelFormat(np.uint16, 1),
    '8UC1': PixelFormat(np.uint8, 1),
    '8UC3': PixelFormat(np.uint8, 3),
    '8UC4': PixelFormat(np.uint8, 4),
    '16UC1': PixelFormat(np.uint16, 1),
    '32FC1': PixelFormat(np.float32, 1),
    '32FC2': PixelFormat(np.float32, 2),
    '32FC3': PixelFormat(np.float32, 3),
}
_BY_FOLDED_NAME = {name.lower(): name for name in ENCODINGS}

#: Encodings accepted as estimator input by :func:`image_to_rgb8` (the ROS contract).
ESTIMATOR_ENCODINGS = ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8', 'mono16')
_TO_RGB = {'bgr8': cv2.COLOR_BGR2RGB, 'rgba8': cv2.COLOR_RGBA2RGB, 'bgra8': cv2.COLOR_BGRA2RGB}


def canonical_encoding(encoding: str, supported: tuple[str, ...] | None = None) -> str:
    """Return the table spelling of ``encoding`` (case-insensitive) or raise ConversionError."""
    name = _BY_FOLDED_NAME.get(str(encoding).strip().lower())
    allowed = supported if supported is not None else tuple(ENCODINGS)
    if name is None or name not in allowed:
        raise ConversionError(
            f"unsupported encoding '{encoding}' (supported: {', '.join(allowed)})")
    return name


def image_to_array(msg: Any) -> np.ndarray:
    """Decode a sensor_msgs/Image into an array of the encoding's native type.

    Honours ``step`` (row padding) and ``is_bigendian``. The result is a view of ``msg.data``
    (no copy) unless the byte order differs from this machine's, so writing to it writes to the
    message; copy it if the message buffer is reused.

    Args:
        msg: an Image (rclpy, rosbags or duck-typed: height, width, encoding, is_bigendian,
            step, data).

    Returns:
        (H, W) for one channel, else (H, W, C); uint8 for ``*8`` / ``8UC*``, uint16 for
        ``mono16`` / ``16UC1``, float32 for ``32FC*``, in native byte order.

    Raises:
        ConversionError: unsupported encoding, empty image, step or data size inconsistent.
    """
    encoding = canonical_encoding(msg.encoding)
    fmt = ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise ConversionError(f'image is empty ({width}x{height})')
    dtype = np.dtype(fmt.dtype).newbyteorder('>' if msg.is_bigendian else '<')
    row_bytes = width * fmt.channels * dtype.itemsize
    if step < row_bytes:
        raise ConversionError(
            f'step {step} is smaller than width*channels = {row_bytes} bytes '
            f'({width}x{height} {encoding})')
    data = bytes_view(msg.data)
    if data.size != step * height:
        raise ConversionError(
            f'data is {data.size} bytes, expected step*height = {step * height} '
            f'({width}x{height} {encoding}, step {step})')
    # (H, step) bytes -> drop the padding -> reinterpret; all views, even with padding
    pixels = data.reshape(height, step)[:, :row_bytes].view(dtype)
    shape = (height, width) if fmt.channels == 1 else (height, width, fmt.channels)
    pixels = pixels.reshape(shape)
    if not dtype.isnative:
        pixels = pixels.astype(dtype.newbyteorder('='))
    return pixels


def image_to_rgb8(msg: Any) -> np.ndarray:
    """Decode an Image into the estimator's input: RGB (H, W, 3) or gray (H, W) uint8.

    rgb8 and mono8 are returned as views of the message data (not C-contiguous when rows are
    padded: ``np.ascontiguousarray`` if that matters); bgr8 / rgba8 / bgra8 are
    converted to RGB (alpha dropped); mono16 keeps its high byte (``value >> 8``), which maps
    the full 16-bit range to 8 bits (a 12-bit camera therefore looks dark, but never clips).

    Raises:
        ConversionError: an encoding other than rgb8, bgr8, rgba8, bgra8, mono8, mono16, or a
            malformed message (see :func:`image_to_array`).
    """
    encoding = canonical_encoding(msg.encoding, ESTIMATOR_ENCODINGS)
    pixels = image_to_array(msg)
    if encoding in _TO_RGB:
        return cv2.cvtColor(pixels, _TO_RGB[encoding])
    if encoding == 'mono16':
        return (pixels >> 8).astype(np.uint8)
    return pixels


def compressed_to_rgb8(msg: Any) -> np.ndarray:
    """Decode a sensor_msgs/CompressedImage (jpeg, png) with OpenCV into RGB or gray uint8.

    The container is recognised from its bytes; ``msg.format`` ('jpeg', 'png',
    'rgb8; jpeg compressed bgr8', ...) is only used to reject compressedDepth and in errors.
    16-bit PNGs keep their high byte, alpha is dropped.

    Returns:
        (H, W, 3) uint8 RGB, or (H, W) uint8 for single-channel images.

    Raises:
        ConversionError: empty or undecodable payload, or a compressedDepth message.
    """
    fmt = str(getattr(msg, 'format', ''))
    if 'compresseddepth' in fmt.lower():
        raise ConversionError(f"compressedDepth images are not supported (format '{fmt}')")
    data = bytes_view(msg.data)
    if data.size == 0:
        raise ConversionError(f"compressed image is empty (format '{fmt}')")
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise ConversionError(
            f"cannot decode compressed image (format '{fmt}', {data.size} bytes)")
    try:
        return decoded_to_rgb8(image)
    except ValueError as error:
        raise ConversionError(f"compressed image: {error} (format '{fmt}')") from None


def array_to_image(array: np.ndarray, encoding: str, header: Any | None = None,
                   msg_cls: Any | None = None) -> Any:
    """Build a sensor_msgs/Image with a tight ``step`` in this machine's byte order.

    Args:
        array: (H, W) or (H, W, C) matching the encoding, e.g. '32FC1' depth in metres
            (H, W), '32FC2' flow in pixels (H, W, 2), 'mono8' mask (H, W) uint8 0/255,
            'bgr8' / 'rgb8' (H, W, 3) uint8. Float encodings accept any real dtype (cast to
            float32); integer encodings need exactly their dtype (no silent wrap-around).
        encoding: one of :data:`ENCODINGS` (case-insensitive).
        header: copied verbatim (stamp, frame_id) - pass the input image's header.
        msg_cls: Image class constructible without arguments; default sensor_msgs.msg.Image.

    Raises:
        ConversionError: unknown encoding, wrong shape or dtype, empty array.
    """
    encoding = canonical_encoding(encoding)
    fmt = ENCODINGS[encoding]
    pixels = np.asarray(array)
    if fmt.channels == 1 and pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    expected_ndim = 2 if fmt.channels == 1 else 3
    if pixels.ndim != expected_ndim or (expected_ndim == 3 and pixels.shape[2] != fmt.channels):
        want = '(H, W)' if fmt.channels == 1 else f'(H, W, {fmt.channels})'
        raise ConversionError(f'{encoding} needs an array of shape {want}, got {pixels.shape}')
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ConversionError(f'image is empty ({pixels.shape[1]}x{pixels.shape[0]})')
    if np.issubdtype(fmt.dtype, np.floating):
        if not (np.issubdtype(pixels.dtype, np.floating)
                or np.issubdtype(pixels.dtype, np.integer)):
            raise ConversionError(f'{encoding} needs a real-valued array, got {pixels.dtype}')
    elif pixels.dtype != fmt.dtype:
        raise ConversionError(
            f'{encoding} needs dtype {np.dtype(fmt.dtype)}, got {pixels.dtype} '
            '(for a mask use mask.astype(np.uint8) * 255)')
    pixels = np.ascontiguousarray(pixels, dtype=fmt.dtype)

    msg = message_class(msg_cls, 'sensor_msgs', 'Image')()
    copy_header(msg.header, header)
    msg.height, msg.width = int(pixels.shape[0]), int(pixels.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = MACHINE_IS_BIGENDIAN
    msg.step = int(pixels.shape[1] * fmt.channels * pixels.itemsize)
    set_data(msg, pixels)
    return msg
