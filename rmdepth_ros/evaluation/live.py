"""Live evaluation: play a bag into the ROS graph through the real rmdepth_node and record it.

The node runs as a subprocess (`python -m rmdepth_ros.ros.node`, or any command given) in its
own namespace, with its parameters on the command line (`--ros-args -p ...`) and its `image` /
`camera_info` remapped to the bag's topics. It inherits this process's environment, so the
localhost-only DDS profile and the ROS_DOMAIN_ID apply to it too. The recorded image and
camera_info messages are published verbatim (each camera_info just before the first image it
belongs to, so the node has intrinsics for the first frame), at the recorded rate times
`rate`, or in lockstep (the next image only once the node answered the previous one). What the
node publishes on depth, flow, motion_mask and odom is recorded and matched to the inputs by
header stamp; mistakes in QoS, stamps or frames then show up as missing outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import os
from pathlib import Path
import signal
import subprocess
import sys
import threading
import time

import numpy as np
from tqdm import tqdm

from rmdepth_ros.data.bag_layout import header_stamp_ns
from rmdepth_ros.data.bag_reader import BagSequence, open_bag_reader
from rmdepth_ros.evaluation.prediction import Prediction
from rmdepth_ros.evaluation.session import Session

OUTPUT_TOPICS = ('depth', 'flow', 'motion_mask', 'odom')


class LiveError(RuntimeError):
    """The node could not be started or connected; the message says what to check."""


@dataclass
class LiveOptions:
    """rate: playback speed factor (1 = recorded rate); lockstep: also wait for the node's
    answer to each image before sending the next (no drops, at most the recorded rate).

    node_command: how to start the node (default: this Python, `-m rmdepth_ros.ros.node`).
    params: extra `name:=value` ROS parameters. log_path: where the node's output goes.
    """

    weights: str | None = None
    device: str = 'cpu'
    input_size: tuple[int, int] | None = None
    rate: float = 1.0
    lockstep: bool = False
    namespace: str = '/rmdepth_eval'
    node_command: list[str] = field(default_factory=lambda: [sys.executable, '-m',
                                                             'rmdepth_ros.ros.node'])
    params: list[str] = field(default_factory=list)
    startup_timeout: float = 120.0
    answer_timeout: float = 60.0
    drain_timeout: float = 20.0
    log_path: Path | None = None
    progress: bool = True


def node_arguments(options: LiveOptions, image_topic: str, info_topic: str) -> list[str]:
    """The node's command line: remaps and `-p` parameters (QoS reliable: nothing is lost on
    the way in, so every dropped frame is the node's own doing)."""
    params = ['device:=' + options.device, 'qos_reliability:=reliable', 'qos_depth:=10',
              'publish_points:=false', 'publish_tf:=false']
    if options.weights:
        params.append(f'weights:={options.weights}')
    if options.input_size:
        params += [f'input_width:={options.input_size[0]}',
                   f'input_height:={options.input_size[1]}']
    params += options.params
    args = list(options.node_command) + ['--ros-args', '-r', f'__ns:={options.namespace}',
                                         '-r', f'image:={image_topic}',
                                         '-r', f'camera_info:={info_topic}']
    for param in params:
        args += ['-p', param]
    return args


class _Recorder:
    """Subscribes to the node's outputs; keeps (message, receive wall time) by stamp (ns)."""

    def __init__(self, node, namespace: str) -> None:
        from nav_msgs.msg import Odometry
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image

        qos = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
        self.lock = threading.Lock()
        self.received: dict[str, dict[int, tuple[object, float]]] = {
            name: {} for name in OUTPUT_TOPICS}
        self.last_time = time.monotonic()
        self.subscriptions = {
            name: node.create_subscription(Odometry if name == 'odom' else Image,
                                           f'{namespace}/{name}', self._callback(name), qos)
            for name in OUTPUT_TOPICS}

    def _callback(self, name: str):
        def store(msg) -> None:
            stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            with self.lock:
                self.received[name][stamp] = (msg, time.monotonic())
                self.last_time = time.monotonic()
        return store

    def answered(self, stamp: int) -> bool:
        with self.lock:
            return stamp in self.received['depth'] and stamp in self.received['odom']


def _wait(condition, timeout: float, process: subprocess.Popen, what: str,
          log_path: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise LiveError(f'rmdepth_node exited with status {process.returncode} while '
                            f'waiting for {what}; see {log_path}')
        if time.monotonic() > deadline:
            raise LiveError(f'timed out after {timeout:.0f} s waiting for {what}; see {log_path}')
        time.sleep(0.05)


def _stop(process: subprocess.Popen) -> None:
    """SIGINT (a clean rclpy shutdown), then SIGTERM, then SIGKILL: only our own child."""
    if process.poll() is not None:
        return
    for sig, grace in ((signal.SIGINT, 10.0), (signal.SIGTERM, 5.0)):
        process.send_signal(sig)
        try:
            process.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue
    process.kill()
    process.wait()


def _camera_infos(reader, topic: str) -> list[tuple[int, bytes]]:
    conns = [c for c in reader.connections if c.topic == topic]
    infos = [(header_stamp_ns(raw) or log_ns, bytes(raw))
             for _, log_ns, raw in reader.messages(conns)]
    return sorted(infos, key=lambda item: item[0])


def run_live(sequence: BagSequence, session: Session, options: LiveOptions) -> Session:
    """Play `sequence`'s bag through rmdepth_node and score what it publishes (module doc)."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import CameraInfo, CompressedImage, Image

    topics = sequence.topics
    if topics.camera_info is None:
        raise LiveError(f'{sequence.path}: live mode needs a camera_info topic in the bag')
    image_type = CompressedImage if topics.image_type.endswith('CompressedImage') else Image
    image_topic = topics.image.removesuffix('/compressed')
    params = list(options.params)
    if image_type is CompressedImage:
        params.append('image_transport:=compressed')
    options = LiveOptions(**{**options.__dict__, 'params': params})
    command = node_arguments(options, image_topic, topics.camera_info)
    log = open(options.log_path, 'w') if options.log_path else subprocess.DEVNULL
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('rmdepth_eval_player', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        image_pub = node.create_publisher(image_type, topics.image, qos)
        info_pub = node.create_publisher(CameraInfo, topics.camera_info, qos)
        recorder = _Recorder(node, options.namespace)
        spinner.start()
        _wait(lambda: image_pub.get_subscription_count() > 0
              and info_pub.get_subscription_count() > 0
              and all(s.get_publisher_count() > 0 for s in recorder.subscriptions.values()),
              options.startup_timeout, process, 'rmdepth_node to start and connect',
              options.log_path)
        start = time.perf_counter()
        published = _play(sequence, image_pub, info_pub, image_type, CameraInfo,
                          deserialize_message, recorder, process, options)
        _drain(recorder, published, options)
        session.wall_s = time.perf_counter() - start
    finally:
        _stop(process)
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        if log is not subprocess.DEVNULL:
            log.close()
    session.mode = 'live'
    _score(sequence, session, recorder, published)
    return session


def _play(sequence, image_pub, info_pub, image_type, info_type, deserialize, recorder,
          process, options) -> list[tuple[int, float]]:
    """Publish every image (and its camera_info) on schedule; [(stamp ns, publish time)]."""
    reader = open_bag_reader(sequence.path)
    published: list[tuple[int, float]] = []
    try:
        infos = _camera_infos(reader, sequence.topics.camera_info)
        next_info, first_log, wall0 = 0, None, time.monotonic()
        conns = [c for c in reader.connections if c.topic == sequence.topics.image]
        bar = tqdm(total=len(sequence), desc='live', unit='frame', disable=not options.progress)
        for _, log_ns, raw in reader.messages(conns):
            stamp = header_stamp_ns(raw) or log_ns
            first_log = log_ns if first_log is None else first_log
            due = wall0 + (log_ns - first_log) * 1e-9 / options.rate
            if options.lockstep and published:
                _wait(lambda: recorder.answered(published[-1][0]), options.answer_timeout,
                      process, f'the answer to the image stamped {published[-1][0]} ns',
                      options.log_path)
            time.sleep(max(0.0, due - time.monotonic()))  # never faster than recorded * rate
            sent_info = False
            while next_info < len(infos) and (infos[next_info][0] <= stamp or not published):
                info_pub.publish(deserialize(infos[next_info][1], info_type))
                next_info, sent_info = next_info + 1, True
            if sent_info and not published:
                time.sleep(0.2)  # let the first camera_info arrive before the first image
            published.append((stamp, time.monotonic()))
            image_pub.publish(deserialize(bytes(raw), image_type))
            bar.update(1)
        bar.close()
    finally:
        reader.close()
    return published


def _drain(recorder: _Recorder, published: list[tuple[int, float]],
           options: LiveOptions) -> None:
    """Wait for the outputs of the last frames: until all answered or no output for a while."""
    while not all(recorder.answered(stamp) for stamp, _ in published):
        if time.monotonic() - recorder.last_time > options.drain_timeout:
            return
        time.sleep(0.05)
    time.sleep(0.3)  # flow / mask of the last frame follow its depth


def _pose(msg) -> np.ndarray:
    from rmdepth_ros.ros.conversions import quaternion_to_matrix

    p, q = msg.pose.pose.position, msg.pose.pose.orientation
    pose = np.eye(4)
    pose[:3, :3] = quaternion_to_matrix([q.x, q.y, q.z, q.w])
    pose[:3, 3] = (p.x, p.y, p.z)
    return pose


def _score(sequence: BagSequence, session: Session, recorder: _Recorder,
           published: list[tuple[int, float]]) -> None:
    from rmdepth_ros.ros.conversions import image_to_array

    received = recorder.received
    for index, frame in enumerate(tqdm(sequence, total=len(sequence), desc='scoring',
                                       unit='frame', disable=len(sequence) < 50)):
        stamp, sent = published[index] if index < len(published) else (None, None)
        got = {name: received[name].get(stamp) for name in OUTPUT_TOPICS}
        pred = None
        if any(got.values()):
            depth, flow, mask, odom = (got[name] for name in OUTPUT_TOPICS)
            pred = Prediction(
                index=index, stamp_ns=stamp,
                depth=None if depth is None else np.array(image_to_array(depth[0])),
                flow=None if flow is None else np.array(image_to_array(flow[0])),
                motion_mask=None if mask is None else np.array(image_to_array(mask[0])) > 0,
                pose=None if odom is None else _pose(odom[0]),
                latency_ms=None if depth is None else (depth[1] - sent) * 1000.0)
        session.consume(frame, pred, stamp if stamp is not None else 0)
    answered = sum(1 for stamp, _ in published if recorder.answered(stamp))
    if answered < len(published):
        session.notes.append(f'the node answered {answered} of {len(published)} input frames '
                             '(it drops frames it cannot keep up with; try --rate < 1 or '
                             '--lockstep)')
