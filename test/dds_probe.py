#!/usr/bin/env python3
"""A child process for test_dds.py: one DDS participant that publishes large rgb8 images.

Publishes `--frames` frames of `--width` x `--height` rgb8 (best effort, the node's default
input QoS) on `/dds_probe/image`, one per `--period` seconds, once a subscriber has matched
(plus a moment for the subscriber's side of discovery). Prints `ready` when it has started its
participant and `sent N` after each frame, then stays alive until stdin closes, so that the
test can look at its sockets. Runs with the test session's environment (localhost profile).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import rclpy
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=2)
    parser.add_argument('--width', type=int, default=4000)
    parser.add_argument('--height', type=int, default=3000)
    parser.add_argument('--period', type=float, default=1.0, help='s')
    args = parser.parse_args()
    rclpy.init()
    node = rclpy.create_node('dds_probe_publisher')
    qos = QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST,
                     reliability=ReliabilityPolicy.BEST_EFFORT)
    publisher = node.create_publisher(Image, '/dds_probe/image', qos)
    print('ready', flush=True)
    while publisher.get_subscription_count() == 0:
        time.sleep(0.05)
    time.sleep(1.0)
    image = Image(width=args.width, height=args.height, encoding='rgb8', step=3 * args.width)
    pixels = np.random.default_rng(0).integers(0, 256, (args.height, args.width, 3), np.uint8)
    for index in range(args.frames):
        image.header.frame_id = str(index)
        image.data = pixels.tobytes()
        publisher.publish(image)
        print(f'sent {index}', flush=True)
        time.sleep(args.period)
    sys.stdin.read()
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
