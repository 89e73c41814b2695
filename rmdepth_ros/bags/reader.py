"""BagSequence: frames of a ROS 2 bag (mcap or sqlite3), with ground truth where the bag has it.

Pairing (all by header stamp, integer nanoseconds; an image with a zero stamp uses its receive
time): frame i = the i-th message of the image topic in bag order; camera_info = the latest one
stamped at or before the image (else the first one); depth, flow, motion mask and odometry =
the message with exactly the image's stamp, else None.

Decoded ground truth: depth 32FC1 metres as stored (+inf = too far, NaN = unknown), 16UC1
millimetres / 1000 with 0 -> NaN; flow 32FC2 with flow_valid = both channels finite; mask =
pixels > 0. Poses: camera-to-world with world = the odometry's header frame (`odom`):
T_odom_child from the message times the static transform child -> image frame_id from
/tf_static (identity when the odometry's child frame is the camera frame itself).

Random access reads one message per topic; iterating reads the bag once, in order.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import Reader

from rmdepth_ros.bags.layout import (
    TF_STATIC_TOPIC,
    TF_TYPE,
    header_stamp_ns,
    ns_to_seconds,
    static_transform,
    typestore,
)
from rmdepth_ros.bags.topics import BagTopics, resolve_topics
from rmdepth_ros.datasets.intrinsics_file import as_intrinsics
from rmdepth_ros.datasets.rotations import quaternion_to_rotation, transform_matrix
from rmdepth_ros.datasets.sequence import DataError, Frame, Sequence
from rmdepth_ros.ros.camera_info import camera_info_to_intrinsics
from rmdepth_ros.ros.image_conversions import compressed_to_rgb8, image_to_array, image_to_rgb8
from rmdepth_ros.ros.message_fields import ConversionError

_GT_KINDS = ('depth', 'flow', 'mask')


def open_bag_reader(path: Path) -> Reader:
    """Open a bag folder or a single .mcap / .db3 file; DataError when that fails."""
    if not path.exists():
        raise DataError(f'{path}: no such bag (expected a rosbag2 folder or a .mcap / .db3 '
                        'file)')
    try:
        reader = Reader(path)
        reader.open()
    except Exception as err:  # rosbags raises several types for unreadable bags
        raise DataError(f'{path}: cannot open as a ROS 2 bag: {err}') from err
    return reader


def _pose_from_odometry(msg: object) -> np.ndarray:
    pose = msg.pose.pose
    quat = [pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w]
    return transform_matrix(quaternion_to_rotation(quat),
                            [pose.position.x, pose.position.y, pose.position.z])


class BagSequence(Sequence):
    """A ROS 2 bag as a Sequence; topic arguments as in `bag_topics` (None = auto, '' = off).

    fallback_intrinsics: 3x3 K or [fx, fy, cx, cy] (pixels) used when the bag has no
    camera_info. Call `close()` (or use `with`) to release the file early.
    """

    def __init__(self, path: str | Path, image_topic: str | None = None,
                 camera_info_topic: str | None = None, depth_topic: str | None = None,
                 odom_topic: str | None = None, flow_topic: str | None = None,
                 mask_topic: str | None = None,
                 fallback_intrinsics: np.ndarray | list[float] | None = None) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self._reader = open_bag_reader(self.path)
        try:
            self.topics: BagTopics = resolve_topics(
                str(self.path), self._reader.connections, image_topic, camera_info_topic,
                depth=depth_topic, flow=flow_topic, mask=mask_topic, odom=odom_topic)
            self._fallback = None if fallback_intrinsics is None else as_intrinsics(
                fallback_intrinsics, f'{self.path}: fallback_intrinsics')
            self._index()
        except BaseException:
            self.close()
            raise

    # -- index ---------------------------------------------------------------------------------

    def _conns(self, *topics: str | None) -> list:
        return [c for c in self._reader.connections if c.topic in topics and c.topic]

    def _index(self) -> None:
        """One pass over the bag: stamps of the image-like topics, small messages decoded."""
        t = self.topics
        gt_topics = {kind: getattr(t, kind) for kind in _GT_KINDS}
        entries: dict[str, list[tuple[tuple[int, int, int], int]]] = {}
        infos, odoms, statics, first_image = [], {}, [], None
        seen: dict[tuple[int, int], int] = {}
        conns = self._conns(t.image, t.camera_info, t.odom, TF_STATIC_TOPIC, *gt_topics.values())
        store = typestore()
        for conn, log_ns, raw in self._reader.messages(conns):
            if conn.topic == TF_STATIC_TOPIC:
                if conn.msgtype == TF_TYPE:
                    statics.extend(store.deserialize_cdr(raw, TF_TYPE).transforms)
                continue
            stamp = header_stamp_ns(raw) or log_ns
            if conn.topic == t.camera_info:
                infos.append((stamp, store.deserialize_cdr(raw, conn.msgtype)))
            elif conn.topic == t.odom:
                odoms[stamp] = store.deserialize_cdr(raw, conn.msgtype)
            else:
                nth = seen[conn.id, log_ns] = seen.get((conn.id, log_ns), -1) + 1
                entries.setdefault(conn.topic, []).append(((conn.id, log_ns, nth), stamp))
                if conn.topic == t.image and first_image is None:
                    first_image = store.deserialize_cdr(raw, conn.msgtype)
        if first_image is None:
            raise DataError(f"{self.path}: image topic '{t.image}' has no messages")
        images = entries[t.image]
        self._image_keys = [key for key, _ in images]
        self._stamps = [stamp for _, stamp in images]
        self._gt: dict[str, list[tuple | None]] = {}
        for kind, topic in gt_topics.items():
            by_stamp = {stamp: key for key, stamp in entries.get(topic, [])} if topic else {}
            self._gt[kind] = [by_stamp.get(stamp) for stamp in self._stamps]
        infos.sort(key=lambda item: item[0])
        self._infos = infos
        self._info_stamps = [stamp for stamp, _ in infos]
        if not infos and self._fallback is None:
            raise DataError(f'{self.path}: no camera_info for {t.image} (camera_info topics: '
                            f'{t.camera_info or "none"}) and no fallback_intrinsics given')
        self._poses = self._odometry_poses(odoms, statics, first_image.header.frame_id)
        self._conn_by_id = {c.id: c for c in self._reader.connections}

    def _odometry_poses(self, odoms: dict, statics: list, camera_frame: str) -> list:
        if not odoms:
            return [None] * len(self._stamps)
        child = next(iter(odoms.values())).child_frame_id
        child_camera = static_transform(statics, child, camera_frame)
        if child_camera is None:
            raise DataError(f"{self.path}: odometry on '{self.topics.odom}' is for frame "
                            f"'{child}', and /tf_static has no transform from it to the camera "
                            f"frame '{camera_frame}'; pass odom_topic='' to skip poses")
        return [_pose_from_odometry(odoms[s]) @ child_camera if s in odoms else None
                for s in self._stamps]

    # -- frames --------------------------------------------------------------------------------

    @property
    def stamps_ns(self) -> list[int]:
        """Header stamps of the image messages, integer nanoseconds, in frame order."""
        return list(self._stamps)

    def __len__(self) -> int:
        return len(self._stamps)

    def __getitem__(self, index: int) -> Frame:
        if not -len(self) <= index < len(self):
            raise IndexError(f'frame {index} out of range for {len(self)} frames')
        index %= len(self)
        keys = {'image': self._image_keys[index]}
        keys.update({kind: self._gt[kind][index] for kind in _GT_KINDS if self._gt[kind][index]})
        raws = {kind: self._fetch(key) for kind, key in keys.items()}
        return self._frame(index, raws)

    def __iter__(self) -> Iterator[Frame]:
        """Read the bag once, in order, and yield each frame when its messages are complete."""
        wanted = {key: ('image', i) for i, key in enumerate(self._image_keys)}
        for kind in _GT_KINDS:
            wanted.update({key: (kind, i) for i, key in enumerate(self._gt[kind]) if key})
        pending: dict[int, dict[str, bytes]] = {}
        next_index, seen = 0, {}
        t = self.topics
        with Reader(self.path) as reader:
            conns = [c for c in reader.connections
                     if c.topic and c.topic in (t.image, t.depth, t.flow, t.mask)]
            for conn, log_ns, raw in reader.messages(conns):
                nth = seen[conn.id, log_ns] = seen.get((conn.id, log_ns), -1) + 1
                slot = wanted.get((conn.id, log_ns, nth))
                if slot is not None:
                    pending.setdefault(slot[1], {})[slot[0]] = bytes(raw)
                while next_index < len(self) and self._complete(next_index, pending):
                    yield self._frame(next_index, pending.pop(next_index))
                    next_index += 1
        if next_index < len(self):
            raise DataError(f'{self.path}: bag changed while reading (frame {next_index})')

    def _complete(self, index: int, pending: dict[int, dict[str, bytes]]) -> bool:
        have = pending.get(index, {})
        return 'image' in have and all(k in have for k in _GT_KINDS if self._gt[k][index])

    def _fetch(self, key: tuple[int, int, int]) -> bytes:
        conn_id, log_ns, nth = key
        if self._reader is None:
            raise DataError(f'{self.path}: BagSequence is closed')
        messages = self._reader.messages([self._conn_by_id[conn_id]], log_ns, log_ns + 1)
        for i, (_, _, raw) in enumerate(messages):
            if i == nth:
                return bytes(raw)
        raise DataError(f'{self.path}: message at {log_ns} ns vanished from the bag')

    def _frame(self, index: int, raws: dict[str, bytes]) -> Frame:
        store, t = typestore(), self.topics
        msg = store.deserialize_cdr(raws['image'], t.image_type)
        decode = image_to_rgb8 if t.image_type.endswith('/Image') else compressed_to_rgb8
        image = np.array(self._decode(decode, msg, t.image, index))
        frame = Frame(image=image, intrinsics=self._intrinsics(index, image.shape),
                      timestamp=ns_to_seconds(self._stamps[index]), pose=self._poses[index],
                      index=index)
        for kind in _GT_KINDS:
            if kind in raws:
                topic = getattr(t, kind)
                gt_msg = store.deserialize_cdr(raws[kind], 'sensor_msgs/msg/Image')
                array = np.array(self._decode(image_to_array, gt_msg, topic, index))
                _set_ground_truth(frame, kind, array, f"{self.path}: topic '{topic}'")
        return frame

    def _decode(self, decode, msg: object, topic: str, index: int) -> np.ndarray:
        try:
            return decode(msg)
        except ConversionError as err:
            raise DataError(f"{self.path}: topic '{topic}' message {index}: {err}") from err

    def _intrinsics(self, index: int, shape: tuple[int, ...]) -> np.ndarray:
        if not self._infos:
            return self._fallback.copy()
        pick = max(bisect.bisect_right(self._info_stamps, self._stamps[index]) - 1, 0)
        try:
            k, (width, height) = camera_info_to_intrinsics(self._infos[pick][1])
        except ConversionError as err:
            raise DataError(f"{self.path}: topic '{self.topics.camera_info}' message {pick}: "
                            f'{err}') from err
        if (width, height) != (shape[1], shape[0]):
            raise DataError(f"{self.path}: camera_info on '{self.topics.camera_info}' is "
                            f'{width}x{height} but image {index} is {shape[1]}x{shape[0]}')
        return k

    def close(self) -> None:
        """Release the bag file."""
        reader, self._reader = getattr(self, '_reader', None), None
        if reader is not None and reader.is_open:
            reader.close()

    def __enter__(self) -> BagSequence:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _set_ground_truth(frame: Frame, kind: str, array: np.ndarray, where: str) -> None:
    if array.shape[:2] != frame.image.shape[:2]:
        raise DataError(f'{where}: {kind} is {array.shape[1]}x{array.shape[0]}, image is '
                        f'{frame.image.shape[1]}x{frame.image.shape[0]}')
    if kind == 'depth':
        if array.ndim != 2:
            raise DataError(f'{where}: depth must have one channel, got {array.shape}')
        if array.dtype == np.uint16:  # REP 118 millimetres, 0 = no measurement
            array = np.where(array == 0, np.nan, array / 1000.0)
        frame.depth = array.astype(np.float32)
    elif kind == 'flow':
        if array.ndim != 3 or array.shape[2] != 2 or array.dtype != np.float32:
            raise DataError(f'{where}: flow must be 32FC2, got {array.dtype} {array.shape}')
        frame.flow = array
        frame.flow_valid = np.all(np.isfinite(array), axis=2)
    else:
        if array.ndim != 2:
            raise DataError(f'{where}: motion mask must have one channel, got {array.shape}')
        frame.motion_mask = array > 0
