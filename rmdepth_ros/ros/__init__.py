"""ROS 2 boundary of rmdepth_ros: message conversions, the node and its helpers."""
