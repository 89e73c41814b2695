"""Data: synthetic street world, ROS 2 bags, and readers for real datasets (numpy, no torch)."""
