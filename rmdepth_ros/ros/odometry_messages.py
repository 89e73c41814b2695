"""The odometry, path and TF messages of each frame, built (not published) from its motion.

Unlike the image outputs (`frame_messages`) these carry state from frame to frame: the
integrated pose, the recent trajectory, when the path was last sent and which camera frames
already got their static TF. Odometry integrates every frame it is given, so it stays
continuous whoever listens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rmdepth_ros.inference import EstimatorOutput
from rmdepth_ros.ros.conversions import make_odometry, make_transform_stamped
from rmdepth_ros.ros.message_fields import stamp_seconds
from rmdepth_ros.ros.node_config import NodeConfig
from rmdepth_ros.ros.output_plan import OutputPlan
from rmdepth_ros.ros.trajectory import Trajectory
from rmdepth_ros.scale import ScaleState
from rmdepth_ros.visual_odometry import OdometryIntegrator

#: odom/path is for viewing: it is published at most this often (seconds of stamp time), since
#: a path of 1000 poses costs ~8 ms to publish.
PATH_PERIOD = 0.5


class OdometryMessages:
    """Builds ('odometry' | 'path' | 'tf' | 'tf_static', message) pairs frame by frame.

    keep_path: whether the path output exists (its trajectory is kept only then).
    static_tf: whether a static broadcaster exists for the identity base -> camera frame
      (no base_to_camera extrinsic given).
    log: receives one line when a camera frame's static TF is first sent.
    """

    def __init__(self, config: NodeConfig, keep_path: bool, static_tf: bool,
                 log: Callable[[str], None]) -> None:
        self.odometry = OdometryIntegrator(config.base_to_camera_matrix)
        self.trajectory = Trajectory(config.odom_frame, config.path_length)
        self._keep_path = keep_path
        self._static_tf = static_tf
        self._log = log
        self._path_stamp: float | None = None
        self._camera_frames: set[str] = set()

    def build(self, header: Any, out: EstimatorOutput, scale: ScaleState, plan: OutputPlan,
              config: NodeConfig) -> list[tuple[str, Any]]:
        """The messages of the frame with input `header`, as the plan asks (maybe none)."""
        if not (plan.odometry or plan.tf):
            return []
        outgoing = []
        stamp = stamp_seconds(header.stamp)
        odom = self.odometry.update(out.motion, stamp, scale.scale, scale.relative_sigma,
                                    reset=out.reset_reason is not None)
        if plan.odometry:
            outgoing.append(('odometry', make_odometry(
                header.stamp, config.odom_frame, config.base_frame, odom.T_odom_base,
                odom.linear, odom.angular, odom.pose_variance, odom.twist_variance)))
        if self._keep_path:
            self.trajectory.append(header.stamp, odom.T_odom_base)
            last = self._path_stamp
            if plan.path and (last is None or not 0.0 <= stamp - last < PATH_PERIOD):
                self._path_stamp = stamp
                outgoing.append(('path', self.trajectory.to_path(header.stamp)))
        if plan.tf:
            outgoing.append(('tf', make_transform_stamped(
                header.stamp, config.odom_frame, config.base_frame, odom.T_odom_base)))
            outgoing += self._camera_frame_messages(header, config.base_frame)
        return outgoing

    def _camera_frame_messages(self, header: Any, base_frame: str) -> list[tuple[str, Any]]:
        """With no extrinsic the camera optical frame is the base frame: say so on TF once."""
        frame = header.frame_id
        if (not self._static_tf or not frame or frame == base_frame
                or frame in self._camera_frames):
            return []
        self._camera_frames.add(frame)
        self._log(f'static TF {base_frame} -> {frame}: identity (base_to_camera is empty)')
        return [('tf_static', make_transform_stamped(
            header.stamp, base_frame, frame, np.eye(4)))]
