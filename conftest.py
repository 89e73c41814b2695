"""Test-session set-up: keep every ROS 2 process of the test run on this machine.

Set before anything imports rclpy. The Fast DDS profile in config/ restricts all DDS traffic
(discovery included) to loopback and shared memory; a test-only domain id keeps the tests apart
from anything else on the host.
"""

import os
from pathlib import Path

from rmdepth_ros.evaluation.dds_env import use_profile

_PROFILE = Path(__file__).resolve().parent / 'config' / 'fastdds_localhost.xml'

# FASTDDS_DEFAULT_PROFILES_FILE (Fast DDS 3: Kilted, the venv), or FASTRTPS_ (Humble, Jazzy)
use_profile(_PROFILE)
os.environ.pop('ROS_AUTOMATIC_DISCOVERY_RANGE', None)
os.environ.setdefault('ROS_DOMAIN_ID', '87')
os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
