"""`rmdepth_node --help`: what the node reads and writes, and where its parameters are."""

from __future__ import annotations

from rmdepth_ros.ros.node_config import NODE_NAME
from rmdepth_ros.ros.output_plan import TOPICS


def _type_name(message_class: type) -> str:
    """'sensor_msgs/Image' from the class sensor_msgs.msg.Image."""
    return f"{message_class.__module__.split('.')[0]}/{message_class.__name__}"


def usage_text() -> str:
    """The help text; names the installed (or source-tree) parameters file."""
    from rmdepth_ros.ros.endpoints import output_message_type
    from rmdepth_ros.ros.launch_config import share_file

    outputs = '\n'.join(f'  {topic:<20} {_type_name(output_message_type(name))}'
                        for name, topic in TOPICS.items())
    return f"""usage: {NODE_NAME} [-h] [--ros-args [--params-file FILE] [-p NAME:=VALUE] ...]

Dense depth, ego-motion, optical flow and moving-object masks from one camera (RM-Depth).
Topic names are relative: namespaces and remappings (-r image:=/camera/image_raw) apply.

subscribes:
  image                sensor_msgs/Image (image_transport:=compressed: image/compressed,
                       sensor_msgs/CompressedImage)
  camera_info          sensor_msgs/CameraInfo (or the fallback_intrinsics parameter)
publishes (each while its publish_* parameter is true; computed only while subscribed):
{outputs}
  /tf                  tf2_msgs/TFMessage: odom_frame -> base_frame (publish_tf)
  /tf_static           tf2_msgs/TFMessage: base_frame -> the camera's frame_id, identity,
                       once per camera frame (publish_tf with base_to_camera empty)
  /diagnostics         diagnostic_msgs/DiagnosticArray: rates, latency, backend, scale
services:
  ~/reset              std_srvs/Trigger: forget the previous frame (odometry continues)
  ~/save_weights       std_srvs/Trigger: write the adapted weights to adapt_save_path
                       (adapt:=true; answers success false when adaptation is off)

parameters: every one, with comments, in {share_file('config/rmdepth.yaml')}
  (copy it, edit it, pass it with --ros-args --params-file FILE); while the node runs,
  `ros2 param list /{NODE_NAME}` and `ros2 param describe /{NODE_NAME} NAME` give each
  parameter's description and range. With rviz2: ros2 launch rmdepth_ros depth.launch.py
  (--show-args lists its arguments).
"""
