"""rmdepth_node with online adaptation (issue 18): parameters, /diagnostics, ~/save_weights.

Real rclpy on the localhost DDS profile, TINY random weights: the node adapts in its
background thread while frames stream in; the test waits on conditions, never on sleeps.
"""

from __future__ import annotations

from pathlib import Path
import threading

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('rmdepth_training')

from camera_publisher import camera_info  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from test_node_graph import HEIGHT, TIMEOUT, WIDTH, Probe, key, to_stamp  # noqa: E402

from rmdepth_ros.model.weights import load_weights, read_metadata  # noqa: E402
from rmdepth_ros.ros.conversions import array_to_image  # noqa: E402
from rmdepth_ros.ros.node import RMDepthNode  # noqa: E402
from rmdepth_ros.ros.node_config import NodeConfig  # noqa: E402

pytestmark = pytest.mark.ros

NAMESPACE = 'adapting'


def test_adapt_needs_the_torch_backend() -> None:
    with pytest.raises(ValueError, match="backend torch only, not 'openvino'"):
        NodeConfig.from_values({'adapt': True, 'backend': 'openvino'})
    assert NodeConfig.from_values({}).adapt is False


def test_node_adapts_reports_and_saves(tiny_weights: Path, tmp_path: Path) -> None:
    context = rclpy.Context()
    rclpy.init(context=context)
    probe = Probe(context, namespace=NAMESPACE)
    saved = tmp_path / 'adapted.safetensors'
    node = RMDepthNode(context=context, namespace=NAMESPACE, parameter_overrides=[
        Parameter('weights', value=str(tiny_weights)),
        Parameter('qos_reliability', value='reliable'),
        Parameter('qos_depth', value=50),
        Parameter('diagnostics_period', value=0.2),
        Parameter('publish_tf', value=False),
        Parameter('adapt', value=True),
        Parameter('adapt_budget', value=1.0),
        Parameter('adapt_batch', value=2),
        Parameter('adapt_validate_every', value=1),
        Parameter('adapt_save_path', value=str(saved))])
    # backend 'auto' (the default) becomes torch: adaptation trains its networks in place
    assert node.estimator.backend == 'torch'
    executors = []
    try:
        for each in (node, probe):
            executor = SingleThreadedExecutor(context=context)
            executor.add_node(each)
            threading.Thread(target=executor.spin, daemon=True).start()
            executors.append(executor)
        probe.wait_matched()
        probe.info_pub.publish(camera_info(WIDTH, HEIGHT, 'camera_optical', to_stamp(0.0)))
        texture = np.random.default_rng(0).integers(0, 255, (HEIGHT, WIDTH + 64, 3))
        t = 1000.0
        for i in range(16):  # a camera panning over a texture: every triplet moves
            image = array_to_image(texture[:, 2 * i:2 * i + WIDTH].astype(np.uint8), 'rgb8')
            image.header.stamp, image.header.frame_id = to_stamp(t + 0.1 * i), 'camera'
            probe.image_pub.publish(image)
            stamp = key(image.header.stamp)
            probe.wait(lambda s=stamp: s in probe.outputs['depth'], f'depth of frame {i}')

        def adapt_values() -> dict[str, str]:
            for msg in reversed(probe.diagnostics):
                for status in msg.status:
                    values = {kv.key: kv.value for kv in status.values}
                    if 'adapt_steps' in values and status.name.startswith(f'/{NAMESPACE}'):
                        return values
            return {}

        probe.wait(lambda: int(adapt_values().get('adapt_steps', 0)) >= 2,
                   'two adaptation steps in /diagnostics', timeout=3 * TIMEOUT)
        values = adapt_values()
        assert values['adapt'] == 'on (torch)'
        assert {'adapt_reverts', 'adapt_loss_trend', 'adapt_swaps'} <= set(values)

        client = probe.create_client(Trigger, f'/{NAMESPACE}/rmdepth_node/save_weights')
        assert client.wait_for_service(timeout_sec=TIMEOUT)
        future = client.call_async(Trigger.Request())
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        assert done.wait(TIMEOUT)
        assert future.result().success, future.result().message
        assert saved.is_file()
        assert read_metadata(saved)['trained_on'].startswith('adapted online by rmdepth_node')
        load_weights(saved)
    finally:
        for executor in executors:
            executor.shutdown(timeout_sec=5.0)
        node.destroy_node()
        probe.destroy_node()
        rclpy.shutdown(context=context)
