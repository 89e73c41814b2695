"""Message <-> numpy conversions: the one import for the node, the bag reader and tests.

The boundary between ROS messages and the numpy estimator, in the spirit of cv_bridge, with
no rclpy import: decoders read fields by name, so rclpy messages, pure-Python ``rosbags``
messages and duck-typed test objects all work; builders import the message classes lazily (or
take ``msg_cls``). Every builder copies the header / stamp it is given, never ``now()``.

- images: :func:`image_to_array`, :func:`image_to_rgb8`, :func:`compressed_to_rgb8`,
  :func:`array_to_image` (``image_conversions``)
- intrinsics: :func:`camera_info_to_intrinsics`, :func:`intrinsics_to_camera_info`,
  :func:`scale_intrinsics_np` (``camera_info``)
- viewing: :func:`colorize_depth`, :func:`colorize_flow`, :func:`overlay_mask` (``colormaps``)
- clouds: :func:`depth_to_pointcloud2`, :func:`pointcloud2_to_array` (``pointcloud``)
- motion: :func:`make_odometry`, :func:`make_transform_stamped`,
  :func:`matrix_to_quaternion`, :func:`quaternion_to_matrix` (``odometry``)

Errors are :class:`ConversionError` (a ValueError) with a message naming the problem.
"""

from rmdepth_ros.ros.camera_info import (
    camera_info_to_intrinsics,
    intrinsics_to_camera_info,
    scale_intrinsics_np,
)
from rmdepth_ros.ros.colormaps import colorize_depth, colorize_flow, overlay_mask
from rmdepth_ros.ros.image_conversions import (
    ENCODINGS,
    ESTIMATOR_ENCODINGS,
    array_to_image,
    compressed_to_rgb8,
    image_to_array,
    image_to_rgb8,
)
from rmdepth_ros.ros.message_fields import ConversionError
from rmdepth_ros.ros.odometry import (
    make_odometry,
    make_transform_stamped,
    matrix_to_quaternion,
    quaternion_to_matrix,
)
from rmdepth_ros.ros.pointcloud import depth_to_pointcloud2, pack_rgb, pointcloud2_to_array

__all__ = [
    'ENCODINGS',
    'ESTIMATOR_ENCODINGS',
    'ConversionError',
    'array_to_image',
    'camera_info_to_intrinsics',
    'colorize_depth',
    'colorize_flow',
    'compressed_to_rgb8',
    'depth_to_pointcloud2',
    'image_to_array',
    'image_to_rgb8',
    'intrinsics_to_camera_info',
    'make_odometry',
    'make_transform_stamped',
    'matrix_to_quaternion',
    'overlay_mask',
    'pack_rgb',
    'pointcloud2_to_array',
    'quaternion_to_matrix',
    'scale_intrinsics_np',
]
