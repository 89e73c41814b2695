"""The recent odometry poses, kept as messages, and the nav_msgs/Path for viewing them."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from rmdepth_ros.ros.message_fields import message_class, set_stamp
from rmdepth_ros.ros.odometry import matrix_to_quaternion


class Trajectory:
    """The last `length` poses as geometry_msgs/PoseStamped in `frame_id`.

    Each pose becomes a message once, when it is appended, so that building the Path costs no
    conversion however long it is.
    """

    def __init__(self, frame_id: str, length: int) -> None:
        self.frame_id = frame_id
        self._poses: deque[Any] = deque(maxlen=max(int(length), 1))
        self._pose_cls = message_class(None, 'geometry_msgs', 'PoseStamped')

    def append(self, stamp: Any, T_odom_base: np.ndarray) -> None:
        """stamp: Time message (copied); T_odom_base: (4, 4), metres."""
        pose = self._pose_cls()
        set_stamp(pose.header.stamp, stamp)
        pose.header.frame_id = self.frame_id
        position, orientation = pose.pose.position, pose.pose.orientation
        position.x, position.y, position.z = (float(c) for c in T_odom_base[:3, 3])
        orientation.x, orientation.y, orientation.z, orientation.w = (
            float(c) for c in matrix_to_quaternion(T_odom_base[:3, :3]))
        self._poses.append(pose)

    def __len__(self) -> int:
        return len(self._poses)

    def to_path(self, stamp: Any, msg_cls: Any | None = None) -> Any:
        """nav_msgs/Path with header (`stamp`, frame_id) and the kept poses, oldest first."""
        path = message_class(msg_cls, 'nav_msgs', 'Path')()
        set_stamp(path.header.stamp, stamp)
        path.header.frame_id = self.frame_id
        path.poses = list(self._poses)
        return path
