"""The layout of the ROS 2 bags this package writes and reads: topics, QoS, stamps, camera mount.

Topics (absolute names, so a bag plays the same under any namespace of the player):

| topic | type | content |
|---|---|---|
| `/camera/image_raw` | `sensor_msgs/Image` | rgb8 (or mono8 for gray frames) |
| `/camera/camera_info` | `sensor_msgs/CameraInfo` | K, P = [K 0], no distortion, same header |
| `/ground_truth/depth` | `sensor_msgs/Image` 32FC1 | metres, optical z; +inf = sky (REP 118) |
| `/ground_truth/flow` | `sensor_msgs/Image` 32FC2 | pixels, (u, v), NaN where not valid |
| `/ground_truth/motion_mask` | `sensor_msgs/Image` mono8 | 255 = moving object, 0 = static |
| `/ground_truth/odom` | `nav_msgs/Odometry` | `base_frame` in `odom_frame` (see bags.writer) |
| `/tf_static` | `tf2_msgs/TFMessage` | `base_frame -> camera frame` mount, transient local |

Every camera-grid message of frame i carries the header (stamp = frame.timestamp, frame_id =
the camera optical frame); the bag's receive time equals the header stamp.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.store import Typestore

from rmdepth_ros.datasets.rotations import quaternion_to_rotation, transform_matrix

IMAGE_TOPIC = '/camera/image_raw'
CAMERA_INFO_TOPIC = '/camera/camera_info'
DEPTH_TOPIC = '/ground_truth/depth'
FLOW_TOPIC = '/ground_truth/flow'
MASK_TOPIC = '/ground_truth/motion_mask'
ODOM_TOPIC = '/ground_truth/odom'
TF_STATIC_TOPIC = '/tf_static'

IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_TYPE = 'sensor_msgs/msg/CompressedImage'
CAMERA_INFO_TYPE = 'sensor_msgs/msg/CameraInfo'
ODOM_TYPE = 'nav_msgs/msg/Odometry'
TF_TYPE = 'tf2_msgs/msg/TFMessage'

# Optical frame (x right, y down, z forward) expressed in a REP 103 body frame (x forward,
# y left, z up): the columns are the optical axes in body coordinates.
R_BODY_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])

_ZERO = QosTime(0, 0)  # 0 s = the RMW default, i.e. infinite deadline / lifespan / lease


def _qos(durability: QosDurability, depth: int) -> Qos:
    return Qos(QosHistory.KEEP_LAST, depth, QosReliability.RELIABLE, durability, _ZERO, _ZERO,
               QosLiveliness.AUTOMATIC, _ZERO, False)


# Offered QoS recorded per topic: `ros2 bag play` publishes with these, so /tf_static is
# latched (transient local) and late subscribers such as rviz still get the camera mount.
QOS_STREAM = _qos(QosDurability.VOLATILE, 10)
QOS_LATCHED = _qos(QosDurability.TRANSIENT_LOCAL, 1)


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    """The message definitions used for writing and reading (ROS 2 Humble; same on Jazzy)."""
    return get_typestore(Stores.ROS2_HUMBLE)


def seconds_to_ns(seconds: float) -> int:
    """Float seconds -> integer nanoseconds, rounded to the nearest nanosecond."""
    return int(round(float(seconds) * 1e9))


def ns_to_seconds(ns: int) -> float:
    """Integer nanoseconds -> float seconds (sec + nanosec / 1e9, correctly rounded parts)."""
    sec, nanosec = divmod(int(ns), 1_000_000_000)
    return sec + nanosec / 1e9


def header_stamp_ns(rawdata: bytes | memoryview) -> int:
    """Header stamp (ns) of a CDR-serialised message whose first field is std_msgs/Header.

    Reads builtin_interfaces/Time (int32 sec, uint32 nanosec) right after the 4-byte CDR
    encapsulation header, without deserialising the (possibly large) rest of the message.
    """
    raw = bytes(rawdata[:12])
    order = '<' if raw[1] == 1 else '>'
    sec = int(np.frombuffer(raw[4:8], dtype=order + 'i4')[0])
    nanosec = int(np.frombuffer(raw[8:12], dtype=order + 'u4')[0])
    return sec * 1_000_000_000 + nanosec


def camera_mount(camera_height: float | None) -> np.ndarray:
    """T_base_camera (4x4): the optical camera looking along base x, `camera_height` m above.

    With no height the camera optical centre is the base frame's origin (rotation only).
    """
    transform = np.eye(4)
    transform[:3, :3] = R_BODY_OPTICAL
    transform[2, 3] = 0.0 if camera_height is None else float(camera_height)
    return transform


def static_transform(statics: list, parent: str, child: str) -> np.ndarray | None:
    """T_parent_child from /tf_static transforms (a tree), or None when not connected."""
    edges = {}
    for tf in statics:
        q, v = tf.transform.rotation, tf.transform.translation
        edges[tf.child_frame_id.lstrip('/')] = (
            tf.header.frame_id.lstrip('/'),
            transform_matrix(quaternion_to_rotation([q.x, q.y, q.z, q.w]), [v.x, v.y, v.z]))

    def to_root(frame: str) -> tuple[str, np.ndarray]:
        transform = np.eye(4)
        for _ in range(len(edges) + 1):  # bounded: a cycle cannot loop forever
            if frame not in edges:
                break
            frame, edge = edges[frame]
            transform = edge @ transform
        return frame, transform

    root_p, root_parent = to_root(parent.lstrip('/'))
    root_c, root_child = to_root(child.lstrip('/'))
    if root_p != root_c:
        return None
    return np.linalg.inv(root_parent) @ root_child
