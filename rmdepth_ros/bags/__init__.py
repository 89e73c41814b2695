"""ROS 2 bags (mcap and sqlite3) through the pure-Python rosbags library: layout, reading, writing."""
