"""Live evaluation: play a bag into the ROS graph through the real rmdepth_node and record it.

The node runs as a subprocess (`python -m rmdepth_ros.ros.startup`, or any command given) in its
own namespace, with its parameters on the command line (`--ros-args -p ...`) and its `image` /
`camera_info` remapped to the bag's topics, which are played under that namespace too. It
inherits this process's environment, so the localhost-only DDS profile and the ROS_DOMAIN_ID
apply to it too. The recorded image and
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

from tqdm import tqdm

from rmdepth_ros.bags.layout import header_stamp_ns
from rmdepth_ros.bags.reader import BagSequence, open_bag_reader
from rmdepth_ros.evaluation.live_outputs import OutputRecorder, score_recorded
from rmdepth_ros.evaluation.session import Session


class LiveError(RuntimeError):
    """The node could not be started or connected; the message says what to check."""


@dataclass
class LiveOptions:
    """rate: playback speed factor (1 = recorded rate); lockstep: also wait for the node's
    answer to each image before sending the next (no drops, at most the recorded rate).

    node_command: how to start the node (default: this Python, `-m rmdepth_ros.ros.startup`).
    params: extra `name:=value` ROS parameters. log_path: where the node's output goes.
    warmup: send two unscored frames first, so start-up cost does not drop bag frames.
    """

    weights: str | None = None
    device: str = 'cpu'
    input_size: tuple[int, int] | None = None
    resize: str | None = None  # None: the node's default
    backend: str | None = None  # None: the node's default (auto)
    motion_source: str | None = None  # None: the node's default
    depth_source: str | None = None  # None: the node's default
    rate: float = 1.0
    lockstep: bool = False
    namespace: str = '/rmdepth_eval'
    node_command: list[str] = field(default_factory=lambda: [sys.executable, '-m',
                                                             'rmdepth_ros.ros.startup'])
    params: list[str] = field(default_factory=list)
    startup_timeout: float = 120.0
    answer_timeout: float = 60.0
    drain_timeout: float = 20.0
    log_path: Path | None = None
    progress: bool = True
    warmup: bool = True


def node_arguments(options: LiveOptions, image_topic: str, info_topic: str,
                   compressed: bool = False) -> list[str]:
    """The node's command line: remaps and `-p` parameters (QoS reliable: nothing is lost on
    the way in, so every dropped frame is the node's own doing)."""
    params = ['device:=' + options.device, 'qos_reliability:=reliable', 'qos_depth:=10',
              'publish_points:=false', 'publish_tf:=false']
    if options.weights:
        params.append(f'weights:={options.weights}')
    if options.input_size:
        params += [f'input_width:={options.input_size[0]}',
                   f'input_height:={options.input_size[1]}']
    if options.resize:
        params.append(f'resize:={options.resize}')
    if options.backend:
        params.append(f'backend:={options.backend}')
    if options.motion_source:
        params.append(f'motion_source:={options.motion_source}')
    if options.depth_source:
        params.append(f'depth_source:={options.depth_source}')
    params += options.params
    args = list(options.node_command) + ['--ros-args', '-r', f'__ns:={options.namespace}',
                                         '-r', ('image/compressed:=' if compressed
                                                else 'image:=') + image_topic,
                                         '-r', f'camera_info:={info_topic}']
    for param in params:
        args += ['-p', param]
    return args


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
    # Played under the evaluation namespace (as `ros2 bag play --remap` would), so another
    # publisher of the bag's topic names on this domain cannot reach the node, nor we it.
    play_image = options.namespace + topics.image
    play_info = options.namespace + topics.camera_info
    params = list(options.params)
    if image_type is CompressedImage:
        params.append('image_transport:=compressed')
    options = LiveOptions(**{**options.__dict__, 'params': params})
    command = node_arguments(options, play_image, play_info, image_type is CompressedImage)
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
        image_pub = node.create_publisher(image_type, play_image, qos)
        info_pub = node.create_publisher(CameraInfo, play_info, qos)
        recorder = OutputRecorder(node, options.namespace)
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
    score_recorded(sequence, session, recorder, published)
    return session


def _play(sequence, image_pub, info_pub, image_type, info_type, deserialize, recorder,
          process, options) -> list[tuple[int, float]]:
    """Publish every image (and its camera_info) on schedule; [(stamp ns, publish time)]."""
    reader = open_bag_reader(sequence.path)
    published: list[tuple[int, float]] = []
    try:
        infos = _camera_infos(reader, sequence.topics.camera_info)
        conns = [c for c in reader.connections if c.topic == sequence.topics.image]
        if options.warmup:
            _warm_up(reader, conns, infos, image_pub, info_pub, image_type, info_type,
                     deserialize, recorder, process, options)
        next_info, first_log, wall0 = 0, None, time.monotonic()
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


def _warm_up(reader, conns, infos, image_pub, info_pub, image_type, info_type, deserialize,
             recorder, process, options) -> None:
    """Send the first image twice, stamped 1e6 s after it, and wait for the answers.

    The first inferences of a fresh process are slow (lazy initialisation), which at the
    recorded rate would make the node drop the bag's first frames. The warm-up stamps match no
    input, and the jump back in time resets the node's temporal state before the bag starts.
    camera_info and image travel on different topics, so the node may see the image first and
    drop it: a warm-up frame without an answer is sent again (1 ms later) until one comes.
    """
    _, log_ns, raw = next(iter(reader.messages(conns)))
    stamp = (header_stamp_ns(raw) or log_ns) + 1_000_000 * 1_000_000_000
    deadline = time.monotonic() + options.answer_timeout
    answered = 0
    while answered < 2:  # the second one also runs the motion network
        sec, nanosec = divmod(stamp, 1_000_000_000)
        info = deserialize(infos[0][1], info_type)
        image = deserialize(bytes(raw), image_type)
        for msg in (info, image):
            msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
        info_pub.publish(info)
        time.sleep(0.1)
        image_pub.publish(image)
        try:
            _wait(lambda stamp=stamp: recorder.answered(stamp),
                  min(5.0, max(deadline - time.monotonic(), 0.1)), process,
                  'an answer to the warm-up frames', options.log_path)
            answered += 1
            stamp += 100_000_000  # 0.1 s: within max_frame_gap of the previous one
        except LiveError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            stamp += 1_000_000


def _drain(recorder: OutputRecorder, published: list[tuple[int, float]],
           options: LiveOptions) -> None:
    """Wait for the outputs of the last frames: until all answered or no output for a while."""
    while not all(recorder.answered(stamp) for stamp, _ in published):
        if time.monotonic() - recorder.last_time > options.drain_timeout:
            return
        time.sleep(0.05)
    time.sleep(0.3)  # flow / mask of the last frame follow its depth
