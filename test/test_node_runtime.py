"""Graph-level tests of rmdepth_node under load and odd input (issue 12).

Real rclpy nodes on real DDS (localhost-only profile): the node and a probe node (from
test_node_graph.py) in this process, each with its own executor thread. The inference thread
is held inside the estimator where a test needs frames to pile up, so drops are certain rather
than a matter of timing. Tests run in file order and share one node.
"""

from __future__ import annotations

from dataclasses import dataclass
import threading
import time
from typing import Any

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from camera_publisher import camera_info  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from test_node_graph import HEIGHT, TIMEOUT, WIDTH, Probe, key, to_stamp  # noqa: E402

from rmdepth_ros.ros import frame_messages as frame_messages_module  # noqa: E402
from rmdepth_ros.ros.conversions import array_to_image  # noqa: E402
from rmdepth_ros.ros.node import RMDepthNode  # noqa: E402

pytestmark = pytest.mark.ros

NAMESPACE = 'runtime'
LOGGER = f'{NAMESPACE}.rmdepth_node'
WHOLE_FRAME = ('depth', 'depth/camera_info', 'depth/color', 'points', 'odom')


class Gate:
    """Stands in for estimator.process: records each call, holds the caller while closed."""

    def __init__(self, estimator: Any) -> None:
        self.process = estimator.process
        self.calls: list[tuple[float, list[float]]] = []  # (timestamp, skipped)
        self.entered = threading.Event()
        self.open = threading.Event()
        self.open.set()

    def __call__(self, image: Any, intrinsics: Any, timestamp: float, **kwargs: Any) -> Any:
        self.calls.append((timestamp, list(kwargs.get('skipped', ()))))
        self.entered.set()
        assert self.open.wait(TIMEOUT), 'the gate was never opened'
        return self.process(image, intrinsics, timestamp, **kwargs)


@dataclass
class Runtime:
    node: RMDepthNode
    probe: Probe
    gate: Gate
    t: float                      # stamp of the last frame sent, seconds
    pixels: np.ndarray            # the scene; each frame shifts its brightness a little

    def send(self, t: float, frame_id: str = 'camera_optical') -> tuple[int, int]:
        image = array_to_image((self.pixels + int(t * 50) % 50).astype(np.uint8), 'rgb8')
        image.header.stamp, image.header.frame_id = to_stamp(t), frame_id
        self.probe.image_pub.publish(image)
        return key(image.header.stamp)

    def outputs(self, stamp: tuple[int, int], topics=('depth', 'odom')) -> dict[str, Any]:
        self.probe.wait(lambda: all(stamp in self.probe.outputs[x] for x in topics),
                        f'outputs {topics} of {stamp}')
        return self.probe.frame(stamp)

    def good(self, t: float, frame_id: str = 'camera_optical') -> dict[str, Any]:
        self.t = t
        return self.outputs(self.send(t, frame_id))

    def hold(self) -> float:
        """Close the gate, send a frame 0.1 s on and wait until inference is busy (held) on
        it; returns its stamp. `gate.open.set()` lets it go."""
        self.gate.open.clear()
        self.gate.entered.clear()
        held = self.t + 0.1
        self.send(held)
        assert self.gate.entered.wait(TIMEOUT)
        return held

    def received(self, count: int) -> None:
        deadline = time.monotonic() + TIMEOUT
        while self.node.stats.received < count:
            assert time.monotonic() < deadline, 'the node did not receive every frame'
            time.sleep(0.01)


@pytest.fixture(scope='module')
def runtime(tiny_weights):
    context = rclpy.Context()
    rclpy.init(context=context)
    probe = Probe(context, namespace=NAMESPACE)
    node = RMDepthNode(context=context, namespace=NAMESPACE, parameter_overrides=[
        Parameter('weights', value=str(tiny_weights)),
        Parameter('qos_reliability', value='reliable'),
        Parameter('qos_depth', value=50),
        Parameter('diagnostics_period', value=0.3),
        Parameter('publish_tf', value=False)])
    assert node.config.max_frame_gap == 0.5  # the default: the rule under test
    gate = Gate(node.estimator)
    node.estimator.process = gate
    executors = []
    for each in (node, probe):  # one thread each: a held frame never stalls the probe
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(each)
        threading.Thread(target=executor.spin, daemon=True).start()
        executors.append(executor)
    probe.wait_matched()
    probe.info_pub.publish(camera_info(WIDTH, HEIGHT, 'camera_optical', to_stamp(0.0)))
    probe.wait_log(LOGGER, 'camera_info received')
    pixels = np.random.default_rng(0).integers(0, 200, (HEIGHT, WIDTH, 3))
    yield Runtime(node, probe, gate, time.time() - 30.0, pixels)
    gate.open.set()
    for executor in executors:
        executor.shutdown(timeout_sec=5.0)
    node.destroy_node()
    probe.destroy_node()
    rclpy.shutdown(context=context)


def test_empty_frame_id_is_warned_once_also_without_a_reset(runtime: Runtime) -> None:
    runtime.good(runtime.t)
    assert 'flow' in runtime.outputs(runtime.send(runtime.t + 0.1), ('depth', 'odom', 'flow'))
    runtime.t += 0.1
    resets = runtime.node.stats.resets
    for _ in range(2):
        outputs = runtime.outputs(runtime.send(runtime.t + 0.1, frame_id=''),
                                  ('depth', 'odom', 'flow'))
        runtime.t += 0.1
        assert outputs['depth'].header.frame_id == ''
    runtime.probe.wait_log(LOGGER, 'input images have an empty frame_id')
    assert runtime.node.stats.resets == resets
    assert len(runtime.probe.lines(LOGGER, 'empty frame_id')) == 1


def test_frames_dropped_while_busy_do_not_reset(runtime: Runtime) -> None:
    node, gate = runtime.node, runtime.gate
    resets, received = node.stats.resets, node.stats.received
    held = runtime.hold()
    # the camera keeps streaming every 0.3 s (< max_frame_gap) while inference is busy
    stamps = [held + 0.3 * i for i in range(1, 9)]
    sent = [runtime.send(t) for t in stamps]
    runtime.received(received + 1 + len(stamps))
    gate.open.set()
    outputs = runtime.outputs(sent[-1], ('depth', 'odom', 'flow', 'motion_mask'))
    runtime.t = stamps[-1]
    # 2.4 s between the two processed frames, yet no reset: the stream had no gap
    assert node.stats.resets == resets
    assert max(outputs['odom'].twist.covariance[::7]) < 10.0  # a real increment
    timestamp, skipped = gate.calls[-1]
    assert timestamp == pytest.approx(stamps[-1])
    assert skipped == pytest.approx(stamps[:-1])
    assert not any(s in runtime.probe.outputs['depth'] for s in sent[:-1])
    assert not runtime.probe.lines(LOGGER, 'temporal state reset')


def test_a_gap_in_the_stream_still_resets(runtime: Runtime) -> None:
    node, gate = runtime.node, runtime.gate
    resets, received = node.stats.resets, node.stats.received
    held = runtime.hold()
    runtime.send(held + 2.0)  # the camera stalled for 2 s ...
    last = runtime.send(held + 2.3)  # ... and streams again
    runtime.received(received + 3)
    gate.open.set()
    outputs = runtime.outputs(last)
    runtime.t = held + 2.3
    assert 'flow' not in outputs
    runtime.probe.wait_log(LOGGER, 'temporal state reset: time gap 2.000 s > max_frame_gap')
    assert node.stats.resets == resets + 1
    assert 'flow' in runtime.outputs(runtime.send(runtime.t + 0.1), ('depth', 'odom', 'flow'))
    runtime.t += 0.1


def test_negative_stamp_frame_is_published_whole(runtime: Runtime) -> None:
    left_out = runtime.node.stats.latency_left_out
    for t, flow in ((-5.0, False), (-4.9, True)):
        outputs = runtime.outputs(runtime.send(t), WHOLE_FRAME)
        assert ('flow' in outputs) is flow
        assert outputs['depth'].header.stamp.sec == int(t) - (t % 1 > 0)
    runtime.probe.wait_log(LOGGER, 'temporal state reset: time went backwards')
    assert not runtime.probe.lines(LOGGER, 'frame dropped')
    assert runtime.node.stats.latency_left_out == left_out + 2


def test_a_frame_that_fails_to_build_publishes_nothing(runtime: Runtime,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError('point cloud broke')

    monkeypatch.setattr(frame_messages_module, 'depth_to_pointcloud2', broken)
    runtime.t = time.time() - 10.0
    failed = runtime.send(runtime.t)
    runtime.probe.wait_log(LOGGER, 'frame dropped: unexpected RuntimeError: point cloud broke')
    monkeypatch.undo()
    after = runtime.outputs(runtime.send(runtime.t + 0.1), WHOLE_FRAME)
    runtime.t += 0.1
    assert 'flow' in after  # the failed frame was estimated; the next one continues from it
    assert not runtime.probe.frame(failed)  # nothing of it went out, not even depth


def test_implausible_stamps_stay_out_of_the_latency(runtime: Runtime) -> None:
    probe = runtime.probe
    runtime.good(0.0)  # stamp 0: "208 days" of latency before the fix
    runtime.t = time.time()
    runtime.good(runtime.t)  # a plausible one

    def status() -> dict[str, str] | None:
        for array in reversed(probe.diagnostics):
            for each in array.status:
                values = {kv.key: kv.value for kv in each.values}
                if each.name.startswith(f'/{NAMESPACE}/') and int(
                        values.get('frames_processed', 0)) >= runtime.node.stats.processed:
                    return values
        return None

    probe.wait(lambda: status() is not None, 'diagnostics after the last frame')
    values = status()
    assert int(values['latency_left_out']) >= 3  # stamps 0, -5 and -4.9
    assert 0.0 < float(values['latency_max_ms']) < 60e3


def _all_answered(futures: list[Any]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not all(f.done() for f in futures):
        answered = sum(f.done() for f in futures)
        assert time.monotonic() < deadline, f'only {answered} of 50 requests answered'
        time.sleep(0.05)
    assert all(f.result().success for f in futures)


def test_fifty_concurrent_resets_are_all_answered(runtime: Runtime) -> None:
    """50 requests at once from another node: the node's default request queue of 10 lost 40.
    The caller keeps every answer (KEEP_ALL): with the default queue of 10 on its side a
    client loses answers itself, whatever the server does."""
    deep = QoSProfile(history=HistoryPolicy.KEEP_ALL, reliability=ReliabilityPolicy.RELIABLE)
    client = runtime.probe.create_client(Trigger, f'/{NAMESPACE}/rmdepth_node/reset',
                                         qos_profile=deep)
    assert client.wait_for_service(timeout_sec=TIMEOUT)
    futures = [client.call_async(Trigger.Request()) for _ in range(50)]
    deadline = time.monotonic() + TIMEOUT
    while not all(f.done() for f in futures):
        answered = sum(f.done() for f in futures)
        assert time.monotonic() < deadline, f'only {answered} of 50 requests answered'
        time.sleep(0.05)
    assert all(f.result().success for f in futures)
    runtime.probe.destroy_client(client)


@pytest.mark.parametrize('remaps, expected', [
    (['-r', 'image:=/front/image_raw'], '/front/image_raw/compressed'),
    (['-r', 'image:=/front/image_raw', '-r', 'image/compressed:=/front/jpeg'], '/front/jpeg'),
    ([], '/image/compressed'),
])
def test_compressed_subscription_follows_the_image_remap(tiny_weights, remaps: list[str],
                                                         expected: str) -> None:
    context = rclpy.Context()
    rclpy.init(args=['rmdepth_node', '--ros-args', *remaps], context=context)  # as main() does
    try:
        node = RMDepthNode(context=context, parameter_overrides=[
            Parameter('weights', value=str(tiny_weights)),
            Parameter('image_transport', value='compressed'),
            Parameter('publish_tf', value=False)])
        topics = [s.topic_name for s in node.subscriptions]
        assert expected in topics and '/camera_info' in topics and len(topics) == 2
        assert node.image_topic() == expected
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
