"""Depth image -> sensor_msgs/PointCloud2 (xyz [+ rgb]), and PointCloud2 -> numpy."""

import sys
from typing import Any

import cv2
import numpy as np

from rmdepth_ros.ros.message_fields import (
    MACHINE_IS_BIGENDIAN,
    ConversionError,
    bytes_view,
    copy_header,
    message_class,
    to_byte_array,
)

#: sensor_msgs/PointField datatype -> numpy scalar type.
POINT_FIELD_TYPES: dict[int, type] = {
    1: np.int8, 2: np.uint8, 3: np.int16, 4: np.uint16,
    5: np.int32, 6: np.uint32, 7: np.float32, 8: np.float64,
}
_FLOAT32 = 7


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """Pack uint8 RGB (..., 3) into float32 whose bits are 0x00RRGGBB (the PCL / rviz 'rgb').

    The floats are bit patterns, not numbers: view them as uint32 to read them back.
    """
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if sys.byteorder == 'little' and rgb.ndim == 3:
        # B, G, R, A bytes read as a little-endian uint32 are 0xAARRGGBB: one OpenCV call
        packed = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA).view(np.uint32)[:, :, 0]
        packed &= np.uint32(0x00FFFFFF)
    else:
        packed = ((rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8)
                  | rgb[..., 2].astype(np.uint32))
    return packed.view(np.float32)


def depth_to_pointcloud2(depth: np.ndarray, K: np.ndarray, header: Any | None,
                         rgb: np.ndarray | None = None, mask_drop: np.ndarray | None = None,
                         stride: int = 1, msg_cls: Any | None = None) -> Any:
    """Back-project a depth image into an unorganised point cloud in the camera optical frame.

    Pixel (u, v) with depth z becomes X = z * K^-1 [u, v, 1] (x right, y down, z forward,
    metres). The cloud is unorganised (height 1): pixels with NaN, non-positive or infinite
    depth and pixels where ``mask_drop`` is set are removed, so ``is_dense`` is True. Points
    keep row-major pixel order.

    Args:
        depth: (H, W) metres along the optical axis.
        K: (3, 3) intrinsics for the depth image's resolution (scale them first when the
            depth is smaller than the camera image).
        header: copied verbatim - the depth image's header (frame_id = optical frame).
        rgb: optional (H', W', 3) uint8 RGB or (H', W') gray; resized to (H, W) if needed.
            Adds a float32 'rgb' field packed as 0x00RRGGBB (point_step 16 instead of 12).
        mask_drop: optional (H, W) bool / uint8; nonzero pixels (moving objects) are dropped.
        stride: keep every ``stride``-th pixel in u and v (1 = all).
        msg_cls: PointCloud2 class; default sensor_msgs.msg.PointCloud2 (PointField is always
            sensor_msgs.msg.PointField).
    """
    depth = np.asarray(depth)
    if depth.ndim != 2 or depth.size == 0:
        raise ConversionError(f'depth must be a non-empty (H, W) array, got {depth.shape}')
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3) or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ConversionError(f'K must be (3, 3) with positive focal lengths, got {K.tolist()}')
    if int(stride) < 1:
        raise ConversionError(f'stride must be >= 1, got {stride}')
    stride = int(stride)
    height, width = depth.shape

    z = depth[::stride, ::stride].astype(np.float32, copy=False)
    keep = np.isfinite(z) & (z > 0)
    if mask_drop is not None:
        mask_drop = np.asarray(mask_drop)
        if mask_drop.shape != depth.shape:
            raise ConversionError(
                f'mask_drop shape {mask_drop.shape} differs from depth shape {depth.shape}')
        keep &= ~mask_drop[::stride, ::stride].astype(bool)

    # rays K^-1 [u, v, 1] with K upper triangular: x = (u - cx - s * y) / fx, y = (v - cy) / fy
    fx, skew, cx, fy, cy = K[0, 0], K[0, 1], K[0, 2], K[1, 1], K[1, 2]
    v_col = np.arange(0, height, stride, dtype=np.float32)[:, None]
    u_row = np.arange(0, width, stride, dtype=np.float32)[None, :]
    ray_y = (v_col - np.float32(cy)) / np.float32(fy)  # (H', 1)
    ray_x = (u_row - np.float32(cx) - np.float32(skew) * ray_y) / np.float32(fx)  # (H', W')

    planes = [z * ray_x, z * ray_y, z]  # (H', W') each
    if rgb is not None:
        colour = np.asarray(rgb, dtype=np.uint8)
        if colour.ndim == 2:
            colour = cv2.cvtColor(colour, cv2.COLOR_GRAY2RGB)
        if colour.ndim != 3 or colour.shape[2] != 3:
            raise ConversionError(f'rgb must be (H, W, 3) or (H, W) uint8, got {colour.shape}')
        if colour.shape[:2] != depth.shape:
            colour = cv2.resize(colour, (width, height), interpolation=cv2.INTER_AREA)
        planes.append(pack_rgb(colour[::stride, ::stride]))
    channels = len(planes)
    points = cv2.merge(planes).reshape(-1, channels)  # (H' * W', 3 or 4) float32
    # np.compress on the flat array: ~20x faster than boolean indexing with a 2-D mask
    points = np.compress(keep.reshape(-1), points, axis=0)  # (N, 3 or 4)

    cloud = message_class(msg_cls, 'sensor_msgs', 'PointCloud2')()
    point_field = message_class(None, 'sensor_msgs', 'PointField')
    copy_header(cloud.header, header)
    names = ['x', 'y', 'z'] + (['rgb'] if rgb is not None else [])
    cloud.fields = [point_field(name=name, offset=4 * i, datatype=_FLOAT32, count=1)
                    for i, name in enumerate(names)]
    cloud.height = 1
    cloud.width = int(points.shape[0])
    cloud.is_bigendian = bool(MACHINE_IS_BIGENDIAN)
    cloud.point_step = 4 * channels
    cloud.row_step = cloud.point_step * cloud.width
    cloud.is_dense = True
    cloud.data = to_byte_array(points)
    return cloud


def pointcloud2_to_array(msg: Any) -> np.ndarray:
    """Decode a PointCloud2 into a structured array with one named field per PointField.

    Byte order follows ``is_bigendian``; padding inside a point and at row ends is skipped.
    Fields with ``count`` > 1 become sub-arrays. The result is a view of ``msg.data`` when rows
    are not padded.

    Returns:
        (height * width,) structured array, e.g. ``cloud['x']``; the packed 'rgb' field is
        float32, read its colour with ``cloud['rgb'].view(np.uint32)``.
    """
    height, width = int(msg.height), int(msg.width)
    point_step, row_step = int(msg.point_step), int(msg.row_step)
    order = '>' if msg.is_bigendian else '<'
    names, formats, offsets = [], [], []
    for field in msg.fields:
        if int(field.datatype) not in POINT_FIELD_TYPES:
            raise ConversionError(f"field '{field.name}' has unknown datatype {field.datatype}")
        scalar = np.dtype(POINT_FIELD_TYPES[int(field.datatype)]).newbyteorder(order)
        count = max(int(field.count), 1)
        names.append(str(field.name))
        formats.append(scalar if count == 1 else np.dtype((scalar, (count,))))
        offsets.append(int(field.offset))
    try:
        dtype = np.dtype({'names': names, 'formats': formats, 'offsets': offsets,
                          'itemsize': point_step})
    except ValueError as error:
        raise ConversionError(f'fields do not fit in point_step {point_step}: {error}') from None
    if row_step < point_step * width:
        raise ConversionError(
            f'row_step {row_step} is smaller than point_step*width = {point_step * width}')
    data = bytes_view(msg.data)
    if data.size != row_step * height:
        raise ConversionError(
            f'data is {data.size} bytes, expected row_step*height = {row_step * height}')
    if height * width == 0:
        return np.zeros(0, dtype=dtype)
    rows = data.reshape(height, row_step)[:, :point_step * width]
    if row_step != point_step * width:
        rows = np.ascontiguousarray(rows)
    return rows.reshape(-1).view(dtype)
