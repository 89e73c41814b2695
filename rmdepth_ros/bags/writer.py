"""Write a sequence of Frames to a ROS 2 bag (mcap or sqlite3) that `ros2 bag play` can replay.

Topics and QoS are listed in `bags.layout`. Conventions chosen here:

- Stamps: header stamp = bag receive time = `frame.timestamp` (or `t0 + i / fps` with `fps`,
  t0 the first frame's timestamp), so `ros2 bag play --clock` reproduces the frame rate. With
  `start_time` every stamp is shifted so that the first frame is at `start_time`: synthetic
  sequences start at 0 s, which tf2 reads as "the latest transform", so their bags start at
  `SYNTHETIC_START` (2026-01-01T00:00:00Z), always the same for reproducible bags.
- MCAP channels carry `topic_type_hash` (RIHS01), as rosbag2 writes them (bags.mcap_hash).
- Camera topics (image, camera_info, depth, flow, mask) have frame_id = `frame_id`, the camera
  optical frame (REP 103: x right, y down, z forward).
- Depth (32FC1) keeps +inf for sky: REP 118 reserves +Inf for "too far to measure", NaN for
  unknown. Flow (32FC2) is NaN where `flow_valid` is False. The mask is mono8 0 / 255.
- /tf_static holds one transform `base_frame -> frame_id`: the standard optical rotation (camera
  looking along base x) and `camera_height` m up along base z (0 when not given). It is recorded
  with transient-local QoS so the player republishes it latched.
- /ground_truth/odom is `base_frame` in `odom_frame`, and `odom_frame` is where `base_frame` was at
  the first frame with a pose (REP 105: odometry starts at the start pose). With T_bc the mount
  and P_i = frame.pose (camera-to-world): T_odom_base_i = (P_0 T_bc^-1)^-1 P_i T_bc^-1. The twist
  is the finite difference to the previous posed frame, in `base_frame`; covariances are 1e-9
  on the diagonal (ground truth). The frames' `object_motion` is not written (no standard type).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
import shutil

import cv2
import numpy as np
from rosbags.interfaces import Connection, Qos
from rosbags.rosbag2 import StoragePlugin

from rmdepth_ros.bags.layout import (
    CAMERA_INFO_TOPIC,
    CAMERA_INFO_TYPE,
    DEPTH_TOPIC,
    FLOW_TOPIC,
    IMAGE_TOPIC,
    IMAGE_TYPE,
    MASK_TOPIC,
    ODOM_TOPIC,
    ODOM_TYPE,
    QOS_LATCHED,
    QOS_STREAM,
    TF_STATIC_TOPIC,
    TF_TYPE,
    camera_mount,
    seconds_to_ns,
    typestore,
)
from rmdepth_ros.bags.mcap_hash import HashingWriter
from rmdepth_ros.datasets.rotations import rotation_to_quaternion
from rmdepth_ros.datasets.sequence import DataError, Frame

_STORAGES = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
_EXACT_COVARIANCE = (np.eye(6) * 1e-9).ravel()

#: First stamp of the synthetic bags, seconds: 2026-01-01T00:00:00Z.
SYNTHETIC_START = 1_767_225_600.0


def write_bag(frames: Iterable[Frame], path: str | Path, storage: str = 'mcap',
              fps: float | None = None, frame_id: str = 'camera_optical_frame',
              base_frame: str = 'base_link', odom_frame: str = 'odom',
              camera_height: float | None = None, start_time: float | None = None) -> Path:
    """Write `frames` as a ROS 2 bag folder at `path` (metadata.yaml + one storage file).

    storage: 'mcap' or 'sqlite3'. fps: re-time frame i to `t0 + i / fps` s (default: keep each
    frame.timestamp). camera_height: metres of the camera above `base_frame`'s origin.
    start_time: seconds; shift every stamp so the first frame is at this time (None: keep).
    Ground-truth topics are written only for frames whose field is not None.
    Returns the bag folder. Raises FileExistsError when `path` exists (never overwrites),
    ValueError for a bad storage / fps, DataError for a frame that cannot be encoded.
    """
    path = Path(path)
    if storage not in _STORAGES:
        raise ValueError(f"storage must be 'mcap' or 'sqlite3', not {storage!r}")
    if fps is not None and not fps > 0:
        raise ValueError(f'fps must be positive, got {fps}')
    if start_time is not None and not 0 <= start_time < 2**31:
        raise ValueError(f'start_time must be in [0, 2^31) s, got {start_time}')
    if path.exists():
        raise FileExistsError(f'{path} exists; refusing to overwrite it (remove it or pick '
                              'another output path)')
    writer = HashingWriter(path, version=8, storage_plugin=_STORAGES[storage])
    writer.open()
    try:
        _write_frames(writer, frames, fps, frame_id, base_frame, odom_frame,
                      camera_mount(camera_height), start_time)
    except BaseException:
        # A half-written bag is useless: remove the folder this call created.
        writer.abort()
        shutil.rmtree(path, ignore_errors=True)
        raise
    writer.close()
    return path


class _Topics:
    """Connections of one bag, added the first time a topic has something to write."""

    def __init__(self, writer: HashingWriter) -> None:
        self.writer = writer
        self.connections: dict[str, Connection] = {}

    def write(self, topic: str, msgtype: str, message: object, stamp_ns: int,
              qos: Qos = QOS_STREAM) -> None:
        """Serialise `message` (CDR) and write it with receive time `stamp_ns`."""
        if topic not in self.connections:
            self.connections[topic] = self.writer.add_connection(
                topic, msgtype, typestore=typestore(), offered_qos_profiles=[qos])
        data = typestore().serialize_cdr(message, msgtype)
        self.writer.write(self.connections[topic], stamp_ns, data)


def _write_frames(writer: HashingWriter, frames: Iterable[Frame], fps: float | None,
                  frame_id: str, base_frame: str, odom_frame: str, mount: np.ndarray,
                  start_time: float | None) -> None:
    topics = _Topics(writer)
    t0_ns = shift_ns = None
    odom_origin = None  # T_world_base of the first posed frame, 4x4
    previous = None  # (stamp_ns, T_odom_base) of the previous posed frame
    for i, frame in enumerate(frames):
        if t0_ns is None:
            t0_ns = seconds_to_ns(frame.timestamp)
            shift_ns = 0 if start_time is None else seconds_to_ns(start_time) - t0_ns
        stamp = shift_ns + (t0_ns + round(i * 1e9 / fps) if fps
                            else seconds_to_ns(frame.timestamp))
        if stamp < 0:
            raise DataError(f'frame {i}: negative timestamp {frame.timestamp} s')
        header = header_message(stamp, frame_id)
        if i == 0:
            topics.write(TF_STATIC_TOPIC, TF_TYPE, tf_message(header, base_frame, mount),
                         stamp, QOS_LATCHED)
        image = _image_message(header, frame.image, i)
        topics.write(IMAGE_TOPIC, IMAGE_TYPE, image, stamp)
        info = camera_info_message(header, frame.intrinsics, image.width, image.height, i)
        topics.write(CAMERA_INFO_TOPIC, CAMERA_INFO_TYPE, info, stamp)
        if frame.depth is not None:
            depth = np.asarray(frame.depth, dtype=np.float32)
            topics.write(DEPTH_TOPIC, IMAGE_TYPE, raw_image_message(header, depth, '32FC1'), stamp)
        if frame.flow is not None:
            flow = np.array(frame.flow, dtype=np.float32)
            if frame.flow_valid is not None:
                flow[~np.asarray(frame.flow_valid, dtype=bool)] = np.nan
            topics.write(FLOW_TOPIC, IMAGE_TYPE, raw_image_message(header, flow, '32FC2'), stamp)
        if frame.motion_mask is not None:
            mask = np.where(np.asarray(frame.motion_mask, dtype=bool), 255, 0).astype(np.uint8)
            topics.write(MASK_TOPIC, IMAGE_TYPE, raw_image_message(header, mask, 'mono8'), stamp)
        if frame.pose is not None:
            world_base = np.asarray(frame.pose, dtype=np.float64) @ np.linalg.inv(mount)
            if odom_origin is None:
                odom_origin = np.linalg.inv(world_base)
            odom_base = odom_origin @ world_base
            odom = odometry_message(header_message(stamp, odom_frame), base_frame, odom_base,
                                    previous, stamp)
            topics.write(ODOM_TOPIC, ODOM_TYPE, odom, stamp)
            previous = (stamp, odom_base)
    if t0_ns is None:
        raise DataError('no frames to write')


def header_message(stamp_ns: int, frame_id: str) -> object:
    types = typestore().types
    sec, nanosec = divmod(stamp_ns, 1_000_000_000)
    return types['std_msgs/msg/Header'](
        stamp=types['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec), frame_id=frame_id)


def raw_image_message(header: object, array: np.ndarray, encoding: str) -> object:
    """A sensor_msgs/Image of a C-contiguous little-endian array (H, W[, C])."""
    height, width = array.shape[:2]
    data = np.ascontiguousarray(array)
    return typestore().types[IMAGE_TYPE](
        header=header, height=height, width=width, encoding=encoding, is_bigendian=0,
        step=data.strides[0], data=data.view(np.uint8).reshape(-1))


def _image_message(header: object, image: np.ndarray, index: int) -> object:
    image = np.asarray(image)
    if image.dtype != np.uint8 or not (image.ndim == 2 or image.ndim == 3
                                       and image.shape[2] == 3):
        raise DataError(f'frame {index}: image must be uint8 (H, W, 3) RGB or (H, W) gray, got '
                        f'{image.dtype} {image.shape}')
    return raw_image_message(header, image, 'mono8' if image.ndim == 2 else 'rgb8')


def camera_info_message(header: object, intrinsics: np.ndarray, width: int, height: int,
                 index: int) -> object:
    k = np.asarray(intrinsics, dtype=np.float64)
    if k.shape != (3, 3):
        raise DataError(f'frame {index}: intrinsics must be 3x3, got {k.shape}')
    types = typestore().types
    roi = types['sensor_msgs/msg/RegionOfInterest'](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return types[CAMERA_INFO_TYPE](
        header=header, height=height, width=width, distortion_model='plumb_bob',
        d=np.zeros(5), k=k.ravel().copy(), r=np.eye(3).ravel(),
        p=np.hstack([k, np.zeros((3, 1))]).ravel(), binning_x=0, binning_y=0, roi=roi)


def tf_message(camera_header: object, base_frame: str, mount: np.ndarray) -> object:
    """TFMessage with T_base_camera; child = the camera header's frame_id."""
    types = typestore().types
    header = types['std_msgs/msg/Header'](stamp=camera_header.stamp, frame_id=base_frame)
    transform = types['geometry_msgs/msg/Transform'](
        translation=_vector3(mount[:3, 3]), rotation=_quaternion(mount[:3, :3]))
    stamped = types['geometry_msgs/msg/TransformStamped'](
        header=header, child_frame_id=camera_header.frame_id, transform=transform)
    return types[TF_TYPE](transforms=[stamped])


def odometry_message(header: object, child_frame: str, odom_base: np.ndarray,
              previous: tuple[int, np.ndarray] | None, stamp_ns: int) -> object:
    types = typestore().types
    linear, angular = np.zeros(3), np.zeros(3)
    if previous is not None and stamp_ns > previous[0]:
        dt = (stamp_ns - previous[0]) * 1e-9
        delta = np.linalg.inv(previous[1]) @ odom_base  # T_prev_cur in the base frame
        linear = delta[:3, 3] / dt
        angular = cv2.Rodrigues(delta[:3, :3])[0].ravel() / dt
    pose = types['geometry_msgs/msg/Pose'](
        position=types['geometry_msgs/msg/Point'](
            x=float(odom_base[0, 3]), y=float(odom_base[1, 3]), z=float(odom_base[2, 3])),
        orientation=_quaternion(odom_base[:3, :3]))
    twist = types['geometry_msgs/msg/Twist'](linear=_vector3(linear), angular=_vector3(angular))
    return types[ODOM_TYPE](
        header=header, child_frame_id=child_frame,
        pose=types['geometry_msgs/msg/PoseWithCovariance'](
            pose=pose, covariance=_EXACT_COVARIANCE.copy()),
        twist=types['geometry_msgs/msg/TwistWithCovariance'](
            twist=twist, covariance=_EXACT_COVARIANCE.copy()))


def _vector3(values: np.ndarray) -> object:
    x, y, z = (float(v) for v in values)
    return typestore().types['geometry_msgs/msg/Vector3'](x=x, y=y, z=z)


def _quaternion(rotation: np.ndarray) -> object:
    x, y, z, w = (float(v) for v in rotation_to_quaternion(rotation))
    return typestore().types['geometry_msgs/msg/Quaternion'](x=x, y=y, z=z, w=w)
