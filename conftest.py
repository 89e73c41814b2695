"""Test-session set-up: keep every ROS 2 process of the test run on this machine.

Set before anything imports rclpy. The Fast DDS profile in config/ restricts all DDS traffic
(discovery included) to loopback and shared memory with a 16 MiB segment, large enough for
float images; a test-only domain id keeps the tests apart from anything else on the host.
"""

import os
from pathlib import Path

_PROFILE = Path(__file__).resolve().parent / 'config' / 'fastdds_localhost.xml'

os.environ['FASTRTPS_DEFAULT_PROFILES_FILE'] = str(_PROFILE)
os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = str(_PROFILE)
os.environ.pop('ROS_AUTOMATIC_DISCOVERY_RANGE', None)
os.environ.setdefault('ROS_DOMAIN_ID', '87')
os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
