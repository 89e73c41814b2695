"""ROS 2 bags (mcap and sqlite3) via the pure-Python rosbags library: layout, reading, writing."""
