"""Write what an evaluation run produced to a ROS 2 bag for replay in rviz2.

The layout follows `rmdepth_ros.bags.writer` (same typestore, QoS, stamp = receive time =
the input's header stamp): the input on /camera/image_raw and /camera/camera_info, and the
outputs on /rmdepth/depth (32FC1 metres), /rmdepth/flow (32FC2 px), /rmdepth/motion_mask (mono8
0/255) and /rmdepth/odom (nav_msgs/Odometry: the predicted camera pose, child frame = the camera
frame). Outputs a frame did not get are simply absent.
"""

from __future__ import annotations

from pathlib import Path
import shutil

import numpy as np
from rosbags.rosbag2 import StoragePlugin

from rmdepth_ros.bags import writer as bag_writer
from rmdepth_ros.bags.layout import (
    CAMERA_INFO_TOPIC,
    CAMERA_INFO_TYPE,
    IMAGE_TOPIC,
    IMAGE_TYPE,
    ODOM_TYPE,
    QOS_STREAM,
    typestore,
)
from rmdepth_ros.bags.mcap_hash import HashingWriter
from rmdepth_ros.datasets.sequence import Frame
from rmdepth_ros.evaluation.prediction import Prediction

DEPTH_OUT = '/rmdepth/depth'
FLOW_OUT = '/rmdepth/flow'
MASK_OUT = '/rmdepth/motion_mask'
ODOM_OUT = '/rmdepth/odom'


class OutputBag:
    """Incremental writer: `add(frame, prediction)` per input frame, then `close()`.

    path must not exist (never overwrites). storage: 'mcap' or 'sqlite3'.
    """

    def __init__(self, path: str | Path, storage: str = 'mcap',
                 frame_id: str = 'camera_optical_frame', odom_frame: str = 'odom') -> None:
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f'{self.path} exists; refusing to overwrite it')
        plugin = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}[storage]
        self.frame_id, self.odom_frame = frame_id, odom_frame
        self._writer = HashingWriter(self.path, version=8, storage_plugin=plugin)
        self._writer.open()
        self._connections: dict[str, object] = {}
        self._previous: tuple[int, np.ndarray] | None = None
        self.messages = 0

    def _write(self, topic: str, msgtype: str, message: object, stamp_ns: int) -> None:
        if topic not in self._connections:
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, typestore=typestore(), offered_qos_profiles=[QOS_STREAM])
        self._writer.write(self._connections[topic], stamp_ns,
                           typestore().serialize_cdr(message, msgtype))
        self.messages += 1

    def add(self, frame: Frame, pred: Prediction | None, stamp_ns: int) -> None:
        """Write the input frame and whatever outputs `pred` holds, stamped `stamp_ns`."""
        header = bag_writer.header_message(stamp_ns, self.frame_id)
        image = np.asarray(frame.image)
        encoding = 'mono8' if image.ndim == 2 else 'rgb8'
        self._write(IMAGE_TOPIC, IMAGE_TYPE, bag_writer.raw_image_message(header, image, encoding),
                    stamp_ns)
        self._write(CAMERA_INFO_TOPIC, CAMERA_INFO_TYPE, bag_writer.camera_info_message(
            header, frame.intrinsics, image.shape[1], image.shape[0], frame.index), stamp_ns)
        if pred is None:
            return
        if pred.depth is not None:
            self._write(DEPTH_OUT, IMAGE_TYPE, bag_writer.raw_image_message(
                header, np.asarray(pred.depth, np.float32), '32FC1'), stamp_ns)
        if pred.flow is not None:
            self._write(FLOW_OUT, IMAGE_TYPE, bag_writer.raw_image_message(
                header, np.asarray(pred.flow, np.float32), '32FC2'), stamp_ns)
        if pred.motion_mask is not None:
            mask = np.where(pred.motion_mask, 255, 0).astype(np.uint8)
            self._write(MASK_OUT, IMAGE_TYPE, bag_writer.raw_image_message(header, mask, 'mono8'),
                        stamp_ns)
        if pred.pose is not None:
            header = bag_writer.header_message(stamp_ns, self.odom_frame)
            odom = bag_writer.odometry_message(header, self.frame_id, pred.pose, self._previous,
                                               stamp_ns)
            self._write(ODOM_OUT, ODOM_TYPE, odom, stamp_ns)
            self._previous = (stamp_ns, pred.pose)

    def close(self) -> Path:
        self._writer.close()
        return self.path

    def abort(self) -> None:
        """Drop a half-written bag."""
        try:
            self._writer.close()
        finally:
            shutil.rmtree(self.path, ignore_errors=True)
