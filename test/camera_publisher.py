#!/usr/bin/env python3
"""A synthetic camera for the graph tests: streams images and camera_info in its own process.

Publishes `--frames` frames at `--rate` Hz on `image` (or `image/compressed` with
`--compressed`) and `camera_info`, stamped `start + i / rate` (header.frame_id `--frame-id`),
after waiting until the node's subscriptions have matched. Prints one JSON line per frame on
stdout, `{"index": i, "sec": ..., "nanosec": ...}`, then `{"done": true}`.

Run by the tests with the test session's environment (localhost-only Fast DDS profile and a
test ROS_DOMAIN_ID); it never sets up DDS on its own.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import cv2
import numpy as np
import rclpy
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from rmdepth_ros.ros.conversions import array_to_image


def synthetic_frame(index: int, width: int, height: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB: a textured ground and a box sliding to the right."""
    v, u = np.mgrid[0:height, 0:width]
    image = np.stack([(u * 255 // max(width - 1, 1)), (v * 255 // max(height - 1, 1)),
                      ((u // 4 + v // 4 + index) % 2) * 200], axis=2).astype(np.uint8)
    x0 = (index * 3) % max(width - width // 4, 1)
    image[height // 4:height // 2, x0:x0 + width // 4] = (250, 40, 40)
    return image


def encode(rgb: np.ndarray, encoding: str) -> np.ndarray:
    """RGB -> the pixel layout of `encoding` (rgb8, bgr8, rgba8, bgra8, mono8, mono16)."""
    if encoding == 'rgb8':
        return rgb
    if encoding in ('mono8', 'mono16'):
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        return gray if encoding == 'mono8' else gray.astype(np.uint16) * 257
    code = {'bgr8': cv2.COLOR_RGB2BGR, 'rgba8': cv2.COLOR_RGB2RGBA, 'bgra8': cv2.COLOR_RGB2BGRA}
    return cv2.cvtColor(rgb, code[encoding])


def camera_info(width: int, height: int, frame_id: str, stamp) -> object:
    from sensor_msgs.msg import CameraInfo

    info = CameraInfo()
    info.header.stamp, info.header.frame_id = stamp, frame_id
    info.width, info.height = width, height
    fx = 0.6 * width
    info.k = [fx, 0.0, (width - 1) / 2.0, 0.0, fx, (height - 1) / 2.0, 0.0, 0.0, 1.0]
    info.p = [fx, 0.0, (width - 1) / 2.0, 0.0, 0.0, fx, (height - 1) / 2.0, 0.0, 0.0, 0.0, 1.0,
              0.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.distortion_model = 'plumb_bob'
    info.d = [0.0] * 5
    return info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=10)
    parser.add_argument('--rate', type=float, default=5.0, help='Hz')
    parser.add_argument('--width', type=int, default=96)
    parser.add_argument('--height', type=int, default=48)
    parser.add_argument('--encoding', default='rgb8')
    parser.add_argument('--frame-id', default='camera_optical')
    parser.add_argument('--namespace', default='')
    parser.add_argument('--start', type=float, default=None,
                        help='stamp of the first frame, s (default: now)')
    parser.add_argument('--compressed', action='store_true',
                        help='publish jpeg on image/compressed')
    parser.add_argument('--no-info', action='store_true', help='publish no camera_info')
    parser.add_argument('--reliable', action='store_true', help='reliable QoS (else best effort)')
    parser.add_argument('--match-timeout', type=float, default=20.0, help='s')
    args = parser.parse_args()

    from builtin_interfaces.msg import Time
    from sensor_msgs.msg import CameraInfo, CompressedImage, Image

    rclpy.init()
    node = rclpy.create_node('synthetic_camera', namespace=args.namespace)
    qos = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST,
                     reliability=ReliabilityPolicy.RELIABLE if args.reliable
                     else ReliabilityPolicy.BEST_EFFORT, durability=DurabilityPolicy.VOLATILE)
    if args.compressed:
        image_pub = node.create_publisher(CompressedImage, 'image/compressed', qos)
    else:
        image_pub = node.create_publisher(Image, 'image', qos)
    info_pub = None if args.no_info else node.create_publisher(CameraInfo, 'camera_info', qos)

    deadline = time.monotonic() + args.match_timeout
    publishers = [image_pub] + ([info_pub] if info_pub is not None else [])
    while any(p.get_subscription_count() == 0 for p in publishers):
        if time.monotonic() > deadline:
            print(json.dumps({'error': 'no subscriber matched'}), flush=True)
            return 1
        time.sleep(0.05)

    start = args.start if args.start is not None else time.time()
    period = 1.0 / args.rate
    tick = time.monotonic()
    for index in range(args.frames):
        sec, nanosec = divmod(int(round((start + index * period) * 1e9)), 1_000_000_000)
        stamp = Time(sec=sec, nanosec=nanosec)
        rgb = synthetic_frame(index, args.width, args.height)
        if args.compressed:
            image = CompressedImage(format='jpeg')
            image.header.stamp, image.header.frame_id = stamp, args.frame_id
            image.data = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()
        else:
            image = array_to_image(encode(rgb, args.encoding), args.encoding)
            image.header.stamp, image.header.frame_id = stamp, args.frame_id
        if info_pub is not None:
            info_pub.publish(camera_info(args.width, args.height, args.frame_id, stamp))
        image_pub.publish(image)
        print(json.dumps({'index': index, 'sec': stamp.sec, 'nanosec': stamp.nanosec}),
              flush=True)
        tick += period
        time.sleep(max(0.0, tick - time.monotonic()))
    print(json.dumps({'done': True}), flush=True)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
