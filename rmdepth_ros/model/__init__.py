"""The RM-Depth networks (torch only: no rclpy, no cv2)."""

from rmdepth_ros.model.config import RMDepthConfig

__all__ = ['RMDepthConfig']
