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
    data_buffer,
    message_class,
)
from rmdepth_ros.ros.strips import row_strips

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
    if rgb.shape[-1:] != (3,):
        raise ConversionError(f'rgb must be (..., 3) uint8, got {rgb.shape}')
    if sys.byteorder == 'little' and rgb.size > 0:
        # B, G, R, A bytes read as a little-endian uint32 are 0xAARRGGBB: one OpenCV call
        bgra = cv2.cvtColor(rgb.reshape(-1, 1, 3), cv2.COLOR_RGB2BGRA)  # (M, 1, 4)
        packed = bgra.view(np.uint32).reshape(rgb.shape[:-1])
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

    z = depth[::stride, ::stride].astype(np.float32, copy=False)  # (H', W') metres
    keep = np.isfinite(z) & (z > 0)
    if mask_drop is not None:
        mask_drop = np.asarray(mask_drop)
        if mask_drop.shape != depth.shape:
            raise ConversionError(
                f'mask_drop shape {mask_drop.shape} differs from depth shape {depth.shape}')
        keep &= ~mask_drop[::stride, ::stride].astype(bool)
    colour = None
    if rgb is not None:
        colour = np.asarray(rgb, dtype=np.uint8)
        if colour.ndim == 2:
            colour = cv2.cvtColor(colour, cv2.COLOR_GRAY2RGB)
        if colour.ndim != 3 or colour.shape[2] != 3:
            raise ConversionError(f'rgb must be (H, W, 3) or (H, W) uint8, got {colour.shape}')
        if colour.shape[:2] != depth.shape:
            colour = cv2.resize(colour, (width, height), interpolation=cv2.INTER_AREA)

    # Only kept pixels are computed, strip by strip, straight into the message's buffer:
    # full-frame temporaries cost more (in page faults) than the arithmetic.
    rows_kept = keep.sum(axis=1)  # (H',) kept pixels per row; they are in row-major order
    count = int(rows_kept.sum())
    channels = 3 if colour is None else 4
    cloud = message_class(msg_cls, 'sensor_msgs', 'PointCloud2')()
    points = data_buffer(cloud, count * channels * 4).view(np.float32).reshape(count, channels)
    # rays K^-1 [u, v, 1] with K upper triangular: y = (v - cy) / fy, x = (u - cx - s y) / fx
    fx, skew, cx, fy, cy = K[0, 0], K[0, 1], K[0, 2], K[1, 1], K[1, 2]
    ray_y_rows = (np.arange(0, height, stride, dtype=np.float32) - np.float32(cy)) / np.float32(fy)
    ray_x_cols = (np.arange(0, width, stride, dtype=np.float32) - np.float32(cx)) / np.float32(fx)
    colour = colour[::stride, ::stride] if colour is not None else None
    first = 0
    for start, end in row_strips(*keep.shape):
        strip_keep = keep[start:end]
        last = first + int(rows_kept[start:end].sum())
        out = points[first:last]  # (n, 3 or 4)
        z_kept = z[start:end][strip_keep]
        ray_y = np.repeat(ray_y_rows[start:end], rows_kept[start:end])
        ray_x = np.broadcast_to(ray_x_cols, strip_keep.shape)[strip_keep]
        if skew != 0.0:
            ray_x -= np.float32(skew / fx) * ray_y
        np.multiply(ray_x, z_kept, out=out[:, 0])
        np.multiply(ray_y, z_kept, out=out[:, 1])
        out[:, 2] = z_kept
        if colour is not None:
            # pack the strip, then select (boolean indexing of a 3-D array is ~20x slower)
            packed = pack_rgb(colour[start:end]).reshape(-1)
            out[:, 3] = np.compress(strip_keep.reshape(-1), packed)
        first = last
    point_field = message_class(None, 'sensor_msgs', 'PointField')
    copy_header(cloud.header, header)
    names = ['x', 'y', 'z'] + (['rgb'] if rgb is not None else [])
    cloud.fields = [point_field(name=name, offset=4 * i, datatype=_FLOAT32, count=1)
                    for i, name in enumerate(names)]
    cloud.height = 1
    cloud.width = count
    cloud.is_bigendian = bool(MACHINE_IS_BIGENDIAN)
    cloud.point_step = 4 * channels
    cloud.row_step = cloud.point_step * cloud.width
    cloud.is_dense = True
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
