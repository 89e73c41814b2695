#!/usr/bin/env python3
"""End-to-end benchmark of rmdepth_node against the bare Estimator on the same frames.

Three measurements at 640x192 (by default) on this machine:

1. bare: `Estimator.process` on the frames (depth + motion), ms per frame, alternating frame
   by frame with 2. so that both see the same load on a shared machine.
2. node, closed loop: a client publishes one frame (image + camera_info, stamped now), waits
   for its last output (odom), then sends the next; every output has a subscriber, so the node
   computes and converts everything. Reports the latency from the input stamp to the depth
   publish (the node's own measurement), the per-frame wall time, and the node's per-stage
   times: estimator vs. ROS layer (decode + scale + conversions + publish).
3. node, under load: frames published at `--load` times the closed-loop rate; output rate and
   frames dropped by the latest-frame-wins slot.

Plus the cost of each conversion on the frame's real outputs. Prints a table, or --json one
JSON object. Uses randomly initialised default-architecture weights unless --weights is given
(speed does not depend on the weight values). DDS stays on this host
(config/fastdds_localhost.xml).

    python bench/bench_node.py [--frames 8] [--width 640 --height 192] [--backend openvino]
        [--weights FILE] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import sys
import tempfile
import threading
import time
from typing import Any

from rmdepth_ros.evaluation.dds_env import use_profile  # noqa: E402 - before rclpy

# Every DDS participant of this process stays on loopback / shared memory.
_PROFILE = Path(__file__).resolve().parent.parent / 'config' / 'fastdds_localhost.xml'
use_profile(_PROFILE)  # FASTDDS_ (Kilted) or FASTRTPS_ (Humble/Jazzy) DEFAULT_PROFILES_FILE
os.environ.pop('ROS_AUTOMATIC_DISCOVERY_RANGE', None)
os.environ.setdefault('ROS_DOMAIN_ID', '88')
os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')

import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402

from rmdepth_ros.inference import Estimator  # noqa: E402
from rmdepth_ros.ros import conversions as conv  # noqa: E402
from rmdepth_ros.ros.endpoints import output_message_type  # noqa: E402
from rmdepth_ros.ros.node import RMDepthNode  # noqa: E402
from rmdepth_ros.ros.output_plan import TOPICS  # noqa: E402

QOS = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST,
                 reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)


def make_frames(count: int, width: int, height: int) -> list[np.ndarray]:
    """(H, W, 3) uint8 RGB frames of a textured scene panning right by 4 px per frame."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (height, width + 4 * count, 3), dtype=np.uint8)
    return [np.ascontiguousarray(texture[:, 4 * i:4 * i + width]) for i in range(count)]


def drive_frames(count: int, width: int, height: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames of the synthetic street world (held-out seed 2000, a camera driving forward
    with traffic) and their intrinsics: the geometry stage of depth_source 'fused' measures
    on every frame, as on a real car."""
    import warnings

    from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

    with warnings.catch_warnings():  # the renderer's harmless NaN warnings (sky rays)
        warnings.simplefilter('ignore', RuntimeWarning)
        sequence = list(SyntheticSequence(SynthConfig(width=width, height=height,
                                                      frames=count, seed=2000)))
    return [frame.image for frame in sequence], sequence[0].intrinsics


def intrinsics(width: int, height: int) -> np.ndarray:
    """A KITTI-like camera: fx = fy = 0.58 * width (3, 3), pixels."""
    f = 0.58 * width
    return np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])


def bench_conversions(frame: np.ndarray, out: Any, repeat: int = 20) -> dict[str, float]:
    """Milliseconds of each conversion the node makes per frame, on real outputs."""
    from std_msgs.msg import Header

    header = Header(frame_id='camera')
    height, width = out.depth.shape
    image_msg = conv.array_to_image(frame, 'rgb8', header)
    T = np.eye(4)
    steps = {
        'decode image': lambda: conv.image_to_rgb8(image_msg),
        'depth 32FC1': lambda: conv.array_to_image(out.depth, '32FC1', header),
        'depth camera_info': lambda: conv.intrinsics_to_camera_info(out.intrinsics, width,
                                                                    height, header),
        'depth colour': lambda: conv.array_to_image(conv.colorize_depth(out.depth, 1.0, 80.0),
                                                    'bgr8', header),
        'flow 32FC2': lambda: conv.array_to_image(out.flow, '32FC2', header),
        'flow colour': lambda: conv.array_to_image(conv.colorize_flow(out.flow), 'bgr8',
                                                   header),
        'mask mono8': lambda: conv.array_to_image(out.motion_mask.astype(np.uint8) * 255,
                                                  'mono8', header),
        'mask overlay': lambda: conv.array_to_image(conv.overlay_mask(frame, out.motion_mask),
                                                    'bgr8', header),
        'points (stride 2, rgb)': lambda: conv.depth_to_pointcloud2(
            out.depth, out.intrinsics, header, rgb=frame, mask_drop=out.motion_mask, stride=2),
        'odometry': lambda: conv.make_odometry(header.stamp, 'odom', 'base_link', T,
                                               [0, 0, 0], [0, 0, 0], [1e-3] * 6, [1e-3] * 6),
    }
    result = {}
    for name, step in steps.items():
        step()
        start = time.perf_counter()
        for _ in range(repeat):
            step()
        result[name] = 1e3 * (time.perf_counter() - start) / repeat
    result['total'] = sum(result.values())
    return result


class Client(Node):
    """Publishes frames to the node and records when each output of each stamp arrives."""

    def __init__(self, context: Any) -> None:
        super().__init__('bench_client', context=context)
        from sensor_msgs.msg import CameraInfo, Image

        self.image_pub = self.create_publisher(Image, 'image', QOS)
        self.info_pub = self.create_publisher(CameraInfo, 'camera_info', QOS)
        self.condition = threading.Condition()
        self.arrivals: dict[str, dict[tuple[int, int], float]] = {t: {} for t in TOPICS}
        for name, topic in TOPICS.items():
            self.create_subscription(output_message_type(name), topic, self._recorder(name),
                                     QOS)

    def _recorder(self, name: str):
        def record(msg: Any) -> None:
            with self.condition:
                stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
                self.arrivals[name][stamp] = time.perf_counter()
                self.condition.notify_all()
        return record

    def send(self, image: np.ndarray, K: np.ndarray) -> tuple[int, int]:
        stamp = self.get_clock().now().to_msg()
        header_frame = 'camera_optical'
        msg = conv.array_to_image(image, 'rgb8')
        msg.header.stamp, msg.header.frame_id = stamp, header_frame
        height, width = image.shape[:2]
        info = conv.intrinsics_to_camera_info(K, width, height, msg.header)
        self.info_pub.publish(info)
        self.image_pub.publish(msg)
        return stamp.sec, stamp.nanosec

    def wait(self, name: str, stamp: tuple[int, int], timeout: float) -> float:
        with self.condition:
            if not self.condition.wait_for(lambda: stamp in self.arrivals[name], timeout):
                raise TimeoutError(f'no {name} for the frame stamped {stamp}')
            return self.arrivals[name][stamp]


def bench_node(weights: str, device: str, frames: list[np.ndarray], K: np.ndarray,
               warmup: int, load: float, load_frames: int, backend: str = 'auto',
               depth_source: str = 'fused') -> tuple[dict[str, Any], Any]:
    """Bare estimator and node on the same frames, alternating frame by frame so that both
    see the same machine load. Returns the results and the bare estimator's last output."""
    bare = Estimator(weights, device=device, backend=backend, depth_source=depth_source)
    context = rclpy.Context()
    rclpy.init(context=context)
    node = RMDepthNode(context=context, parameter_overrides=[
        Parameter('weights', value=weights), Parameter('device', value=device),
        Parameter('backend', value=backend), Parameter('qos_reliability', value='reliable'),
        Parameter('depth_source', value=depth_source),
        # frames are stamped with the wall clock, seconds apart on a slow CPU: keep the state
        Parameter('max_frame_gap', value=3600.0)])
    client = Client(context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    executor.add_node(client)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        deadline = time.monotonic() + 30.0
        while client.image_pub.get_subscription_count() == 0 or any(
                p.get_subscription_count() == 0 for p in node._publishers_by_output.values()):
            if time.monotonic() > deadline:
                raise TimeoutError('the node and the client never matched')
            time.sleep(0.05)

        walls, bare_ms = [], []
        for index, image in enumerate(frames):
            if index == warmup:
                node.stats = type(node.stats)()  # measure after the warm-up frames only
            start = time.perf_counter()
            out = bare.process(image, K, 0.1 * index)
            if index >= warmup:
                bare_ms.append(1e3 * (time.perf_counter() - start))
            sent = time.perf_counter()
            stamp = client.send(image, K)
            done = client.wait('odometry', stamp, timeout=600.0)
            if index >= warmup:
                walls.append(1e3 * (done - sent))
        closed = node.stats.snapshot()
        stages = node.stats.stage_means()

        node.stats = type(node.stats)()
        period = np.mean(walls) / 1e3 / load
        sent_stamps, start = [], time.perf_counter()
        for index in range(load_frames):
            sent_stamps.append(client.send(frames[index % len(frames)], K))
            time.sleep(max(0.0, start + (index + 1) * period - time.perf_counter()))
        last = client.wait('odometry', sent_stamps[-1], timeout=600.0)
        outputs = [s for s in sent_stamps if s in client.arrivals['depth']]
        loaded = node.stats.snapshot()
    finally:
        executor.shutdown(timeout_sec=5.0)
        node.destroy_node()
        client.destroy_node()
        rclpy.shutdown(context=context)
    return {
        'bare_estimator': {'frames': len(bare_ms), 'ms_per_frame': float(np.mean(bare_ms)),
                           'ms_median': float(np.median(bare_ms)),
                           'fps': 1e3 / float(np.mean(bare_ms))},
        'closed_loop': {
            'frames': len(walls),
            'wall_ms_per_frame': float(np.mean(walls)),
            'fps': 1e3 / float(np.mean(walls)),
            'latency_stamp_to_depth_ms': closed['latency_mean_ms'],
            'stage_ms': stages,
            'ros_layer_share': stages['ros_layer'] / (stages['ros_layer'] + stages['estimator']),
        },
        'under_load': {
            'input_rate_hz': 1.0 / period,
            'frames_sent': load_frames,
            'frames_output': len(outputs),
            'dropped_busy': loaded['dropped_busy'],
            'output_rate_hz': (len(outputs) - 1) / (last - start) if len(outputs) > 1 else 0.0,
            'latency_stamp_to_depth_ms': loaded['latency_mean_ms'],
        },
    }, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--weights', default=None, help='weights file (default: random init)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--backend', default='auto',
                        help="auto (the node's default), torch, onnxruntime or openvino")
    parser.add_argument('--depth-source', default='fused', choices=('fused', 'network'),
                        help="the node's depth_source (default: fused, the node's default)")
    parser.add_argument('--scene', choices=('drive', 'pan'), default='drive',
                        help='drive: the synthetic street world, a camera driving forward '
                        '(default); pan: a random texture panning sideways (no parallax)')
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=192)
    parser.add_argument('--frames', type=int, default=8, help='measured frames per run')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--load', type=float, default=2.0,
                        help='input rate under load, times the closed-loop rate')
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights
        if weights is None:
            import torch

            from rmdepth_ros.model.config import RMDepthConfig
            from rmdepth_ros.model.rmdepth import RMDepth
            from rmdepth_ros.model.weights import save_weights

            torch.manual_seed(0)
            weights = str(Path(tmp) / 'random.safetensors')
            config = RMDepthConfig()
            save_weights(weights, RMDepth(config), config, (args.width, args.height))
        if args.scene == 'drive':
            frames, K = drive_frames(args.warmup + args.frames, args.width, args.height)
        else:
            frames = make_frames(args.warmup + args.frames, args.width, args.height)
            K = intrinsics(args.width, args.height)
        node, last = bench_node(weights, args.device, frames, K, args.warmup, args.load,
                                args.frames, args.backend, args.depth_source)
        conversions = bench_conversions(frames[-1], last)
        bare = node.pop('bare_estimator')

    import torch

    result = {'input': f'{args.width}x{args.height}', 'device': args.device,
              'torch': torch.__version__, 'torch_threads': torch.get_num_threads(),
              'cpus': os.cpu_count(), 'bare_estimator': bare,
              'conversions_ms': conversions, 'node': node}
    if args.json:
        print(json.dumps(result))
        return 0
    closed, loaded = node['closed_loop'], node['under_load']
    print(f"rmdepth_node benchmark, {result['input']} on {args.device} "
          f"(torch {result['torch']}, {result['torch_threads']} threads, {result['cpus']} CPUs)")
    print(f"  bare estimator         {bare['ms_per_frame']:9.1f} ms/frame  "
          f"{bare['fps']:6.2f} fps")
    print(f"  node, closed loop      {closed['wall_ms_per_frame']:9.1f} ms/frame  "
          f"{closed['fps']:6.2f} fps  (latency stamp->depth "
          f"{closed['latency_stamp_to_depth_ms']:.1f} ms)")
    stages = closed['stage_ms']
    print(f"    in the node: estimator {stages['estimator']:.1f} ms, ROS layer "
          f"{stages['ros_layer']:.1f} ms (decode {stages['decode']:.2f}, convert+publish "
          f"{stages['publish']:.2f}) -> ROS layer {100 * closed['ros_layer_share']:.2f} %")
    print(f"  node, under load       {loaded['output_rate_hz']:9.2f} Hz out at "
          f"{loaded['input_rate_hz']:.2f} Hz in; {loaded['frames_output']}/"
          f"{loaded['frames_sent']} frames out, {loaded['dropped_busy']} dropped (latest wins), "
          f"latency {loaded['latency_stamp_to_depth_ms']:.1f} ms")
    print('  conversions per frame (ms):')
    for name, ms in conversions.items():
        print(f'    {name:24s} {ms:7.2f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
