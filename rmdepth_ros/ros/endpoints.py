"""The QoS profiles and message types of rmdepth_node's topics and service.

Outputs are named as in `output_plan.TOPICS`; `output_message_type` maps a name to its message
class (imported lazily, like every message class outside rclpy code).
"""

from __future__ import annotations

from typing import Any

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from rmdepth_ros.ros.node_config import NodeConfig

#: Outputs are reliable (a best-effort subscriber, e.g. rviz, matches too) and keep only the
#: newest messages: a slow subscriber misses frames instead of holding memory.
OUTPUT_QOS = QoSProfile(depth=2, history=HistoryPolicy.KEEP_LAST,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)

#: ~/reset keeps every request until it is answered (the default queue of 10 lost a burst).
SERVICE_QOS = QoSProfile(history=HistoryPolicy.KEEP_ALL, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)


def input_qos(config: NodeConfig) -> QoSProfile:
    """The QoS of the image and camera_info subscriptions (qos_reliability, qos_depth)."""
    reliability = (ReliabilityPolicy.RELIABLE if config.qos_reliability == 'reliable'
                   else ReliabilityPolicy.BEST_EFFORT)
    return QoSProfile(depth=config.qos_depth, history=HistoryPolicy.KEEP_LAST,
                      reliability=reliability, durability=DurabilityPolicy.VOLATILE)


def input_image_type(config: NodeConfig) -> Any:
    """sensor_msgs Image, or CompressedImage for image_transport 'compressed'."""
    from sensor_msgs.msg import CompressedImage, Image

    return CompressedImage if config.image_transport == 'compressed' else Image


def output_message_type(output: str) -> Any:
    """The message class of an output name of `output_plan.TOPICS` (or 'diagnostics')."""
    from diagnostic_msgs.msg import DiagnosticArray
    from nav_msgs.msg import Odometry, Path
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2

    return {'depth_info': CameraInfo, 'points': PointCloud2, 'odometry': Odometry, 'path': Path,
            'diagnostics': DiagnosticArray}.get(output, Image)
