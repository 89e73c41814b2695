"""rmdepth_ros: monocular depth, ego-motion, optical flow and moving-object masks (RM-Depth)."""

__version__ = '0.1.0'
