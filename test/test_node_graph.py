"""Graph-level tests of rmdepth_node: real rclpy, real DDS (localhost-only profile).

The node runs in this process (its executor in a thread); a synthetic camera streams from
another process (test/camera_publisher.py); a probe node here subscribes to every output and
to /rosout, and publishes the bad inputs. Waits are on conditions with timeouts, never sleeps.
Tests run in file order and share one node: the time line of stamps continues across them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
import json
import math
import os
from pathlib import Path
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from builtin_interfaces.msg import Time  # noqa: E402
from camera_publisher import camera_info, encode, synthetic_frame  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from nav_msgs.msg import Path as PathMsg  # noqa: E402
from rcl_interfaces.msg import Log  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, PointCloud2  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from rmdepth_ros.backends import choose_backend  # noqa: E402
from rmdepth_ros.ros.conversions import (  # noqa: E402
    array_to_image,
    image_to_array,
    pointcloud2_to_array,
)
from rmdepth_ros.ros.node import RMDepthNode  # noqa: E402
from rmdepth_ros.ros.odometry_messages import PATH_PERIOD  # noqa: E402

pytestmark = pytest.mark.ros

CAMERA = Path(__file__).resolve().parent / 'camera_publisher.py'
WIDTH, HEIGHT = 96, 48
FRAMES = 8
PERIOD = 0.2  # s between frames
TIMEOUT = 20.0

OUTPUTS = {
    'depth': Image, 'depth/camera_info': CameraInfo, 'depth/color': Image,
    'depth/confidence': Image, 'flow': Image,
    'flow/color': Image, 'motion_mask': Image, 'motion_mask/overlay': Image,
    'points': PointCloud2, 'odom': Odometry, 'odom/path': PathMsg,
}
RELIABLE = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def ros_env() -> dict[str, str]:
    """The test session's environment (conftest.py: localhost DDS profile, test domain)."""
    env = dict(os.environ)
    assert env.get('FASTDDS_DEFAULT_PROFILES_FILE', '').endswith('fastdds_localhost.xml')
    assert 'ROS_AUTOMATIC_DISCOVERY_RANGE' not in env
    return env


def key(stamp: Any) -> tuple[int, int]:
    return int(stamp.sec), int(stamp.nanosec)


def to_stamp(t: float) -> Time:
    sec, nanosec = divmod(int(round(t * 1e9)), 1_000_000_000)
    return Time(sec=sec, nanosec=nanosec)


def pose_of(odom: Odometry) -> tuple[float, ...]:
    p, q = odom.pose.pose.position, odom.pose.pose.orientation
    return (p.x, p.y, p.z, q.x, q.y, q.z, q.w)


class Probe(Node):
    """Records every output of one rmdepth_node by topic and input stamp, and /rosout."""

    def __init__(self, context: Any, namespace: str = '') -> None:
        super().__init__('graph_probe', namespace=namespace, context=context)
        self.condition = threading.Condition()
        self.outputs: dict[str, dict[tuple[int, int], Any]] = defaultdict(dict)
        self.logs: list[Log] = []
        self.diagnostics: list[DiagnosticArray] = []
        for topic, msg_type in OUTPUTS.items():
            self.create_subscription(msg_type, topic, self._recorder(topic), RELIABLE)
        self.create_subscription(Log, '/rosout', self._record_log, QoSProfile(
            depth=1000, reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.create_subscription(DiagnosticArray, '/diagnostics', self._record_diagnostics, 10)
        self.image_pub = self.create_publisher(Image, 'image', RELIABLE)
        self.info_pub = self.create_publisher(CameraInfo, 'camera_info', RELIABLE)

    def _recorder(self, topic: str):
        def record(msg: Any) -> None:
            stamp = msg.header.stamp
            with self.condition:
                self.outputs[topic][key(stamp)] = msg
                self.condition.notify_all()
        return record

    def _record_log(self, msg: Log) -> None:
        with self.condition:
            self.logs.append(msg)
            self.condition.notify_all()

    def _record_diagnostics(self, msg: DiagnosticArray) -> None:
        with self.condition:
            self.diagnostics.append(msg)
            self.condition.notify_all()

    def wait(self, predicate, what: str, timeout: float = TIMEOUT) -> None:
        with self.condition:
            assert self.condition.wait_for(predicate, timeout), f'timed out waiting for {what}'

    def lines(self, logger: str, text: str) -> list[str]:
        with self.condition:
            return [m.msg for m in self.logs if m.name == logger and text in m.msg]

    def wait_log(self, logger: str, text: str) -> None:
        self.wait(lambda: any(m.name == logger and text in m.msg for m in self.logs),
                  f'log line {text!r} from {logger}')

    def wait_matched(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        while (self.image_pub.get_subscription_count() == 0
               or self.info_pub.get_subscription_count() == 0):
            assert time.monotonic() < deadline, 'the node never subscribed'
            time.sleep(0.02)

    def frame(self, stamp: tuple[int, int]) -> dict[str, Any]:
        """Every output recorded for the input stamp `stamp`."""
        with self.condition:
            return {topic: msgs[stamp] for topic, msgs in self.outputs.items() if stamp in msgs}


@dataclass
class Graph:
    node: RMDepthNode
    probe: Probe
    context: Any
    executor: Any
    t: float = 0.0                     # stamp of the last frame sent, seconds
    frame_id: str = 'camera_optical'
    processed: list[tuple[int, int]] = field(default_factory=list)  # in processing order

    def send(self, t: float, size: tuple[int, int] = (WIDTH, HEIGHT), encoding: str = 'rgb8',
             msg: Image | None = None) -> tuple[int, int]:
        """Publish one image stamped `t` (a synthetic frame unless `msg` is given)."""
        if msg is None:
            msg = array_to_image(encode(synthetic_frame(int(t * 5), *size), encoding), encoding)
        msg.header.stamp, msg.header.frame_id = to_stamp(t), self.frame_id
        self.probe.image_pub.publish(msg)
        return key(msg.header.stamp)

    def good_frame(self, t: float, flow: bool, size: tuple[int, int] = (WIDTH, HEIGHT),
                   encoding: str = 'rgb8') -> dict[str, Any]:
        """Send a valid frame; wait for its outputs; check whether it has flow."""
        stamp = self.send(t, size, encoding)
        self.t = t
        topics = ('depth', 'odom') + (('flow', 'motion_mask') if flow else ())
        self.probe.wait(lambda: all(stamp in self.probe.outputs[x] for x in topics),
                        f'outputs {topics} of the frame at {t:.3f} s')
        self.processed.append(stamp)
        outputs = self.probe.frame(stamp)
        if not flow:
            assert 'flow' not in outputs and 'motion_mask' not in outputs
        return outputs

    def odom_before(self, stamp: tuple[int, int]) -> Odometry:
        index = self.processed.index(stamp)
        return self.probe.outputs['odom'][self.processed[index - 1]]


@pytest.fixture(scope='module')
def graph(tiny_weights: Path):
    context = rclpy.Context()
    rclpy.init(context=context)
    probe = Probe(context)
    node = RMDepthNode(context=context, parameter_overrides=[
        Parameter('weights', value=str(tiny_weights)),
        Parameter('qos_reliability', value='reliable'),
        Parameter('qos_depth', value=20),
        Parameter('max_frame_gap', value=2.0),
        Parameter('diagnostics_period', value=0.5),
        Parameter('points_stride', value=1),
    ])
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(probe)
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    probe.wait_matched()
    yield Graph(node, probe, context, executor, t=time.time())
    executor.shutdown(timeout_sec=5.0)
    for each in list(executor.get_nodes()):
        each.destroy_node()
    rclpy.shutdown(context=context)
    thread.join(timeout=5.0)


def test_frame_without_intrinsics_is_dropped(graph: Graph) -> None:
    stamp = graph.send(graph.t)
    graph.probe.wait_log('rmdepth_node', 'no camera_info received yet, and fallback_intrinsics '
                                          'is empty')
    assert stamp not in graph.probe.outputs['depth']
    assert graph.node.stats.dropped_invalid >= 1


def test_stream_from_camera_process(graph: Graph) -> None:
    start = graph.t + 1.0
    result = subprocess.run(
        [sys.executable, str(CAMERA), '--frames', str(FRAMES), '--rate', str(1 / PERIOD),
         '--width', str(WIDTH), '--height', str(HEIGHT), '--encoding', 'bgr8',
         '--frame-id', graph.frame_id, '--start', repr(start), '--reliable'],
        capture_output=True, text=True, timeout=60, env=ros_env())
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    stamps = [(line['sec'], line['nanosec']) for line in lines if 'sec' in line]
    assert len(stamps) == FRAMES
    probe = graph.probe
    # The newest frame is never dropped (latest wins); odom is the last output of a frame.
    probe.wait(lambda: stamps[-1] in probe.outputs['odom'], 'the last streamed frame')
    processed = sorted(s for s in stamps if s in probe.outputs['depth'])
    assert len(processed) >= FRAMES - 2, f'only {len(processed)} of {FRAMES} frames processed'

    for stamp in processed:
        outputs = probe.frame(stamp)
        depth = outputs['depth']
        assert (depth.encoding, depth.width, depth.height) == ('32FC1', WIDTH, HEIGHT)
        assert depth.header.frame_id == graph.frame_id and key(depth.header.stamp) == stamp
        values = image_to_array(depth)
        assert np.all(np.isnan(values) | (values > 0))
        info = outputs['depth/camera_info']
        assert info.header == depth.header and (info.width, info.height) == (WIDTH, HEIGHT)
        expected = camera_info(WIDTH, HEIGHT, graph.frame_id, depth.header.stamp).k
        np.testing.assert_allclose(info.k, expected)
        colour = outputs['depth/color']
        assert (colour.encoding, colour.width, colour.height) == ('bgr8', WIDTH, HEIGHT)
        # depth_source fused (the default): a relative 1-sigma per pixel, aligned with depth
        confidence = outputs['depth/confidence']
        assert confidence.header == depth.header
        assert (confidence.encoding, confidence.width, confidence.height) == (
            '32FC1', WIDTH, HEIGHT)
        sigma = image_to_array(confidence)
        assert np.all(np.isfinite(sigma) & (sigma > 0))
        cloud = outputs['points']
        assert cloud.header == depth.header and cloud.width > 0
        assert {f.name for f in cloud.fields} == {'x', 'y', 'z', 'rgb'}
        assert np.all(pointcloud2_to_array(cloud)['z'] > 0)
        odom = outputs['odom']
        assert key(odom.header.stamp) == stamp
        assert (odom.header.frame_id, odom.child_frame_id) == ('odom', 'base_link')
        assert all(math.isfinite(v) for v in pose_of(odom))
        if 'odom/path' in outputs:  # published at most every PATH_PERIOD
            path = outputs['odom/path']
            assert path.header.frame_id == 'odom' and key(path.poses[-1].header.stamp) == stamp

    first, rest = processed[0], processed[1:]
    outputs = probe.frame(first)
    # First frame: depth but no flow, mask or odometry increment.
    assert not {'flow', 'flow/color', 'motion_mask', 'motion_mask/overlay'} & set(outputs)
    assert pose_of(outputs['odom']) == (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
    assert min(outputs['odom'].twist.covariance[::7]) >= 10.0  # twist unknown: large
    for stamp in rest:
        outputs = probe.frame(stamp)
        flow, mask = outputs['flow'], outputs['motion_mask']
        assert (flow.encoding, flow.width, flow.height) == ('32FC2', WIDTH, HEIGHT)
        assert flow.header == outputs['depth'].header
        assert (mask.encoding, mask.width, mask.height) == ('mono8', WIDTH, HEIGHT)
        assert set(np.unique(image_to_array(mask))) <= {0, 255}
        for topic in ('flow/color', 'motion_mask/overlay'):
            assert outputs[topic].encoding == 'bgr8'
            assert (outputs[topic].width, outputs[topic].height) == (WIDTH, HEIGHT)
        odom = outputs['odom']
        assert max(odom.twist.covariance[::7]) < 10.0  # a real increment: finite, smaller
        assert min(odom.pose.covariance[::7]) > 0.0
    # one continuous trajectory: the latest path holds every pose published before it
    with_path = [s for s in processed if s in probe.outputs['odom/path']]
    assert len(with_path) >= len(processed) * PERIOD / PATH_PERIOD - 1
    path = probe.outputs['odom/path'][with_path[-1]].poses
    poses = [pose_of(probe.outputs['odom'][s]) for s in processed if s <= with_path[-1]]
    by_stamp = {key(p.header.stamp): p.pose for p in path}
    for stamp, pose in zip(processed, poses, strict=False):
        p, q = by_stamp[stamp].position, by_stamp[stamp].orientation
        assert (p.x, p.y, p.z, q.x, q.y, q.z, q.w) == pose
    assert np.all(np.isfinite(poses))
    graph.processed.extend(processed)
    graph.t = (stamps[-1][0] + stamps[-1][1] * 1e-9)


def test_tf_is_broadcast_or_said_to_be_off(graph: Graph) -> None:
    try:
        import tf2_ros  # noqa: F401
    except ImportError:
        assert len(graph.probe.lines('rmdepth_node', 'TF is off')) == 1
        assert graph.probe.outputs['odom'], 'odometry must flow without TF'
        return
    from tf2_msgs.msg import TFMessage

    received = []
    graph.probe.create_subscription(TFMessage, '/tf', received.append, RELIABLE)
    outputs = graph.good_frame(graph.t + PERIOD, flow=True)
    stamp = key(outputs['odom'].header.stamp)
    graph.probe.wait(lambda: any(key(t.header.stamp) == stamp for m in received
                                 for t in m.transforms), 'odom -> base_link on /tf')


def test_startup_lines_said_once(graph: Graph) -> None:
    assert len(graph.probe.lines('rmdepth_node', 'the camera optical frame is the base '
                                                 'frame')) == 1
    assert len(graph.probe.lines('rmdepth_node', 'listening on')) == 1


def test_diagnostics(graph: Graph) -> None:
    probe = graph.probe

    def node_status():
        for array in reversed(probe.diagnostics):
            for status in array.status:
                if status.name.startswith('/rmdepth_node') and any(
                        kv.key == 'frames_processed' and int(kv.value) > 0
                        for kv in status.values):
                    return status
        return None

    probe.wait(lambda: node_status() is not None, 'diagnostics after processed frames')
    values = {kv.key: kv.value for kv in node_status().values}
    for name in ('input_rate_hz', 'output_rate_hz', 'latency_mean_ms', 'latency_max_ms',
                 'dropped_busy', 'dropped_invalid', 'resets', 'scale_status', 'camera_info'):
        assert name in values
    expected, why = choose_backend('auto')  # the default backend, 'auto'
    assert values['backend'].startswith(f'{expected} ') and values['backend_choice'] == why
    assert values['device'] == 'cpu'
    assert values['model_id'] == graph.node.estimator.model_id
    assert values['scale_mode'] == 'training'
    assert values['scale_units'] == 'model units (training scale, not metres)'
    # (stamps here are synthetic, some in the future: latency is a number, not necessarily > 0)
    assert math.isfinite(float(values['latency_mean_ms']))


@pytest.mark.parametrize('case', ['unknown encoding', 'data too short', 'step too small',
                                  'zero-size image'])
def test_bad_image_is_dropped_and_node_answers(graph: Graph, case: str) -> None:
    good = array_to_image(synthetic_frame(0, WIDTH, HEIGHT), 'rgb8')
    if case == 'unknown encoding':
        good.encoding, expected = 'yuv422', "unsupported encoding 'yuv422'"
    elif case == 'data too short':
        good.data = good.data[:-10]
        expected = 'expected step*height'
    elif case == 'step too small':
        good.step, expected = WIDTH, 'is smaller than width*channels'
    else:
        good.width = good.height = good.step = 0
        good.data, expected = [], 'image is empty'
    stamp = graph.send(graph.t + PERIOD, msg=good)
    graph.probe.wait_log('rmdepth_node', expected)
    assert stamp not in graph.probe.outputs['depth']
    # still answering, and the bad frame did not disturb the temporal state
    graph.good_frame(graph.t + 2 * PERIOD, flow=True)


def test_image_size_change_resets(graph: Graph) -> None:
    bigger = (2 * WIDTH, 2 * HEIGHT)
    outputs = graph.good_frame(graph.t + PERIOD, flow=False, size=bigger, encoding='mono8')
    assert (outputs['depth'].width, outputs['depth'].height) == bigger
    graph.probe.wait_log('rmdepth_node', 'temporal state reset: image size changed')
    assert pose_of(outputs['odom']) == pose_of(graph.odom_before(key(outputs['odom'].header
                                                                     .stamp)))
    graph.good_frame(graph.t + PERIOD, flow=True, size=bigger, encoding='bgra8')
    graph.good_frame(graph.t + PERIOD, flow=False)
    graph.good_frame(graph.t + PERIOD, flow=True, encoding='mono16')


@pytest.mark.parametrize('jump, reason', [(-5.0, 'time went backwards'),
                                          (10.0, 'time gap')])
def test_time_jumps_reset_and_odometry_continues(graph: Graph, jump: float,
                                                 reason: str) -> None:
    outputs = graph.good_frame(graph.t + jump, flow=False)
    graph.probe.wait_log('rmdepth_node', f'temporal state reset: {reason}')
    odom = outputs['odom']
    previous = graph.odom_before(key(odom.header.stamp))
    assert pose_of(odom) == pose_of(previous)  # never jumps
    assert odom.pose.covariance[0] > previous.pose.covariance[0]  # tracking lost: inflated
    after = graph.good_frame(graph.t + PERIOD, flow=True)
    assert math.isfinite(after['odom'].pose.pose.position.x)


def test_degenerate_camera_info_drops_frames_until_valid(graph: Graph) -> None:
    probe = graph.probe
    for k, expected in (([0.0] * 9, 'K is all zeros'),
                        ([math.nan] + [0.0] * 7 + [1.0], 'K is not finite')):
        info = camera_info(WIDTH, HEIGHT, graph.frame_id, to_stamp(graph.t))
        info.k = k
        probe.info_pub.publish(info)
        probe.wait_log('rmdepth_node', f'camera_info rejected: camera_info {expected}')
        stamp = graph.send(graph.t + PERIOD)
        graph.t += PERIOD
        probe.wait_log('rmdepth_node', f'frame dropped: camera_info {expected}')
        assert stamp not in probe.outputs['depth']
    probe.info_pub.publish(camera_info(WIDTH, HEIGHT, graph.frame_id, to_stamp(graph.t)))
    probe.wait_log('rmdepth_node', 'camera_info valid again')
    # 3 periods since the last processed frame < max_frame_gap: the state carries on
    graph.good_frame(graph.t + PERIOD, flow=True)


def test_reset_service(graph: Graph) -> None:
    client = graph.probe.create_client(Trigger, '/rmdepth_node/reset')
    assert client.wait_for_service(timeout_sec=TIMEOUT)
    done = threading.Event()
    future = client.call_async(Trigger.Request())
    future.add_done_callback(lambda _: done.set())
    assert done.wait(TIMEOUT)
    assert future.result().success
    outputs = graph.good_frame(graph.t + PERIOD, flow=False)
    graph.probe.wait_log('rmdepth_node', 'temporal state reset: requested via ~/reset')
    assert pose_of(outputs['odom']) == pose_of(graph.odom_before(key(outputs['odom'].header
                                                                     .stamp)))
    graph.good_frame(graph.t + PERIOD, flow=True)


def settled_counts(stats: Any) -> tuple[int, int, int, int]:
    """(received, processed, dropped_busy, dropped_invalid) once every received frame is
    accounted for (the counters trail the published outputs by a moment)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        counts = (stats.received, stats.processed, stats.dropped_busy, stats.dropped_invalid)
        if counts[0] == sum(counts[1:]):
            return counts
        assert time.monotonic() < deadline, f'frames unaccounted for: {counts}'
        time.sleep(0.01)


def test_latest_frame_wins_under_load(graph: Graph) -> None:
    before = settled_counts(graph.node.stats)
    burst = 12
    stamps = [graph.send(graph.t + 0.01 * (i + 1)) for i in range(burst)]
    graph.t += 0.01 * burst
    graph.probe.wait(lambda: stamps[-1] in graph.probe.outputs['odom'], 'the burst')
    after = settled_counts(graph.node.stats)
    received, processed, busy, invalid = (a - b for a, b in zip(after, before, strict=True))
    assert (received, invalid) == (burst, 0)
    assert busy > 0 and processed == burst - busy, (received, processed, busy)
    graph.processed.append(stamps[-1])


def test_fallback_intrinsics_and_compressed_transport(graph: Graph, tiny_weights: Path) -> None:
    fallback = [50.0, 50.0, 47.5, 23.5]
    node = RMDepthNode(context=graph.context, namespace='fallback', parameter_overrides=[
        Parameter('weights', value=str(tiny_weights)),
        Parameter('image_transport', value='compressed'),
        Parameter('fallback_intrinsics', value=fallback),
        Parameter('publish_tf', value=False),
    ])
    probe = Probe(graph.context, namespace='fallback')
    graph.executor.add_node(node)
    graph.executor.add_node(probe)
    result = subprocess.run(
        [sys.executable, str(CAMERA), '--frames', '5', '--rate', str(1 / PERIOD),
         '--width', str(WIDTH), '--height', str(HEIGHT), '--namespace', 'fallback',
         '--compressed', '--no-info'],
        capture_output=True, text=True, timeout=60, env=ros_env())
    assert result.returncode == 0, result.stdout + result.stderr
    probe.wait(lambda: len(probe.outputs['depth/camera_info']) >= 2, 'fallback outputs')
    for info in probe.outputs['depth/camera_info'].values():
        np.testing.assert_allclose(np.reshape(info.k, (3, 3))[[0, 1, 0, 1], [0, 1, 2, 2]],
                                   fallback)
        assert (info.width, info.height) == (WIDTH, HEIGHT)
    lines = graph.probe.lines('fallback.rmdepth_node', 'using fallback_intrinsics')
    assert len(lines) == 1 and 'no camera_info received yet' in lines[0]
    assert not graph.probe.lines('fallback.rmdepth_node', 'TF is off')


class FakeBroadcaster:
    """Stands in for tf2_ros' (Static)TransformBroadcaster where tf2_ros is not installed."""

    sent: list[tuple[str, Any]] = []

    def __init__(self, node: Any) -> None:
        self.kind = type(self).__name__

    def sendTransform(self, transform: Any) -> None:  # noqa: N802 - tf2_ros' name
        FakeBroadcaster.sent.append((self.kind, transform))


def test_tf_edges_when_tf2_ros_is_there(graph: Graph, tiny_weights: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """odom -> base_link per frame with the input stamp; identity base_link -> camera once."""
    import types

    fake = types.ModuleType('tf2_ros')
    fake.TransformBroadcaster = type('TransformBroadcaster', (FakeBroadcaster,), {})
    fake.StaticTransformBroadcaster = type('StaticTransformBroadcaster', (FakeBroadcaster,), {})
    monkeypatch.setitem(sys.modules, 'tf2_ros', fake)
    FakeBroadcaster.sent.clear()
    node = RMDepthNode(context=graph.context, namespace='tf', parameter_overrides=[
        Parameter('weights', value=str(tiny_weights)),
        Parameter('qos_reliability', value='reliable'),
        Parameter('publish_odometry', value=False)])
    probe = Probe(graph.context, namespace='tf')
    graph.executor.add_node(node)
    graph.executor.add_node(probe)
    probe.wait_matched()
    tf_graph = Graph(node, probe, graph.context, graph.executor, t=100.0)
    probe.info_pub.publish(camera_info(WIDTH, HEIGHT, tf_graph.frame_id, to_stamp(100.0)))
    probe.wait_log('tf.rmdepth_node', 'camera_info received')
    stamps = []
    for index in range(3):
        stamps.append(tf_graph.send(100.0 + PERIOD * index))
        probe.wait(lambda: stamps[-1] in probe.outputs['depth'], 'depth')
    deadline = time.monotonic() + TIMEOUT
    while sum(kind == 'TransformBroadcaster' for kind, _ in FakeBroadcaster.sent) < 3:
        assert time.monotonic() < deadline, FakeBroadcaster.sent
        time.sleep(0.01)
    moving = [t for kind, t in FakeBroadcaster.sent if kind == 'TransformBroadcaster']
    static = [t for kind, t in FakeBroadcaster.sent if kind == 'StaticTransformBroadcaster']
    assert [key(t.header.stamp) for t in moving] == stamps
    assert {(t.header.frame_id, t.child_frame_id) for t in moving} == {('odom', 'base_link')}
    assert len(static) == 1 and (static[0].header.frame_id, static[0].child_frame_id) == (
        'base_link', tf_graph.frame_id)
    assert static[0].transform.rotation.w == 1.0 and static[0].transform.translation.z == 0.0
    assert not probe.outputs['odom']  # publish_odometry false: TF only
    assert not graph.probe.lines('tf.rmdepth_node', 'TF is off')
