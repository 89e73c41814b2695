"""rmdepth_node parameters and start-up failures (the launch logic: test_launch.py).

Parameters are checked three ways: the YAML against the declaration table, the YAML through
the real rcl parser into a node (so YAML defaults and code defaults cannot drift), and the
validation of bad values.
"""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys

import pytest
import yaml

from rmdepth_ros.ros.frame_slot import LatestFrameSlot
from rmdepth_ros.ros.node_config import PARAMETERS, SPECS, NodeConfig
from rmdepth_ros.ros.output_plan import plan_outputs
from rmdepth_ros.ros.parameter_declaration import declare_parameters, descriptor

ROOT = Path(__file__).resolve().parent.parent
YAML = ROOT / 'config' / 'rmdepth.yaml'


def yaml_parameters() -> dict:
    document = yaml.safe_load(YAML.read_text())
    assert list(document) == ['/**/rmdepth_node']
    return document['/**/rmdepth_node']['ros__parameters']


# -- the parameter table and the YAML ---------------------------------------------------------

def test_every_yaml_key_is_declared_and_every_parameter_is_in_the_yaml() -> None:
    keys = set(yaml_parameters())
    assert keys - set(SPECS) == set(), 'YAML keys the node does not declare'
    assert set(SPECS) - keys == set(), 'declared parameters missing from config/rmdepth.yaml'


def test_table_matches_config_dataclass_and_has_descriptions() -> None:
    assert [s.name for s in PARAMETERS] == list(NodeConfig.__dataclass_fields__)
    for spec in PARAMETERS:
        desc = descriptor(spec)
        assert desc.name == spec.name and len(desc.description) > 10
        assert desc.read_only == spec.read_only
        if spec.bounds is not None:
            assert desc.integer_range or desc.floating_point_range
    needs_restart = {s.name for s in PARAMETERS if s.read_only}
    assert {'weights', 'device', 'precision', 'image_transport', 'odom_frame'} <= needs_restart
    assert {'points_stride', 'camera_height', 'max_frame_gap'}.isdisjoint(needs_restart)


@pytest.mark.ros
@pytest.mark.parametrize('namespace', ['', 'robot/front'])
def test_yaml_loads_through_rcl_with_the_code_defaults(namespace: str) -> None:
    rclpy = pytest.importorskip('rclpy')
    context = rclpy.Context()
    rclpy.init(context=context, args=['--ros-args', '--params-file', str(YAML)])
    try:
        node = rclpy.create_node('rmdepth_node', namespace=namespace, context=context)
        assert declare_parameters(node) == NodeConfig.from_values({})
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


@pytest.mark.ros
def test_overrides_and_out_of_range_values_on_a_node() -> None:
    rclpy = pytest.importorskip('rclpy')
    from rclpy.parameter import Parameter

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node('rmdepth_node', context=context, parameter_overrides=[
            Parameter('points_stride', value=4),
            Parameter('base_to_camera', value=[0.0, 0.0, 1.2, -0.5, 0.5, -0.5, 0.5]),
            Parameter('device', value='cuda:1')])
        config = declare_parameters(node)
        assert config.points_stride == 4 and config.device == 'cuda:1'
        assert config.base_to_camera_matrix[2, 3] == pytest.approx(1.2)
        node.destroy_node()
        for name, value, expected in (('points_stride', 0, '0 is outside [1, 64]'),
                                      ('input_width', 100, 'in steps of 8'),
                                      ('qos_depth', 'five', "expecting type 'INTEGER'")):
            node = rclpy.create_node('rmdepth_node', context=context,
                                     parameter_overrides=[Parameter(name, value=value)])
            with pytest.raises(ValueError) as error:
                declare_parameters(node)
            message = str(error.value)
            assert message.startswith(f"parameter '{name}'") and expected in message
            assert '\n' not in message
            node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


@pytest.mark.parametrize('values, expected', [
    ({'device': 'tpu'}, "'device': 'tpu' is not one of"),
    ({'device': 'cuda:x'}, "'device'"),
    ({'precision': 'fp64'}, "'precision'"),
    ({'backend': 'tensorrt'}, "'backend': 'tensorrt' is not one of auto, torch, onnxruntime"),
    ({'input_width': 64}, 'both be 0'),
    ({'input_width': 60, 'input_height': 32}, 'multiple of 8'),
    ({'image_transport': 'theora'}, "'image_transport'"),
    ({'points_stride': 0}, 'outside'),
    ({'camera_height': -1.0}, 'outside'),
    ({'max_frame_gap': float('nan')}, 'finite'),
    ({'scale_mode': 'metric'}, "'scale_mode'"),
    ({'base_to_camera': [0.0] * 6}, '7 values'),
    ({'base_to_camera': [0.0] * 7}, 'quaternion is zero'),
    ({'fallback_intrinsics': [1.0, 2.0, 3.0]}, '[fx, fy, cx, cy]'),
    ({'fallback_intrinsics': [0.0, 2.0, 3.0, 4.0]}, 'positive'),
    ({'odom_frame': 'base_link'}, 'both'),
    ({'base_frame': '/base'}, 'not a valid frame id'),
    ({'depth_color_min': 90.0}, 'smaller than'),
    ({'qos_reliability': 'maybe'}, "'qos_reliability'"),
    ({'publish_depth': 'yes'}, 'true or false'),
    ({'qos_depth': 2.5}, 'integer'),
    ({'no_such_parameter': 1}, 'unknown parameter'),
])
def test_invalid_values_fail_with_one_line(values: dict, expected: str) -> None:
    with pytest.raises(ValueError) as error:
        NodeConfig.from_values(values)
    assert expected in str(error.value) and '\n' not in str(error.value)


def test_runtime_updates() -> None:
    config = NodeConfig.from_values({'fallback_intrinsics': [500.0, 500.0, 320.0, 96.0]})
    assert config.fallback_matrix[0, 2] == 320.0
    changed = config.updated({'points_stride': 3, 'camera_height': 1.2})
    assert (changed.points_stride, changed.camera_height) == (3, 1.2)
    with pytest.raises(ValueError, match='read-only'):
        config.updated({'device': 'cpu'})
    with pytest.raises(ValueError, match='smaller than'):
        config.updated({'depth_color_min': 100.0})


@pytest.mark.ros
def test_startup_failures_are_one_readable_line(tmp_path: Path) -> None:
    """Bad weights or parameters: exit status 1, one FATAL line, no traceback."""
    env = dict(os.environ)
    assert env['FASTDDS_DEFAULT_PROFILES_FILE'].endswith('fastdds_localhost.xml')
    script = Path(sys.executable).parent / 'rmdepth_node'
    command = [str(script)] if script.exists() else [sys.executable, '-m',
                                                     'rmdepth_ros.ros.startup']
    not_weights = tmp_path / 'bad.safetensors'
    not_weights.write_bytes(b'not a weights file at all')
    cases = [
        (['-p', f'weights:={tmp_path / "missing.safetensors"}'], 'weights file not found'),
        (['-p', f'weights:={not_weights}'], 'not a weights file'),
        (['-p', 'device:=tpu'], "parameter 'device': 'tpu' is not one of"),
        (['-p', 'points_stride:=0'], "parameter 'points_stride': 0 is outside"),
    ]
    runs = [subprocess.Popen(command + ['--ros-args'] + args, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for args, _ in cases]
    for run, (_, expected) in zip(runs, cases, strict=True):
        output, _ = run.communicate(timeout=120)
        fatal = [line for line in output.splitlines() if 'FATAL' in line]
        assert run.returncode == 1, output
        assert len(fatal) == 1 and 'cannot start: ' in fatal[0] and expected in fatal[0], output
        assert 'Traceback' not in output


# -- what a frame computes -----------------------------------------------------------------

def test_outputs_nobody_subscribes_to_are_not_computed() -> None:
    config = NodeConfig.from_values({})
    idle = plan_outputs(config, {}, tf=False)
    assert not (idle.depth or idle.depth_color or idle.flow or idle.points or idle.path)
    assert idle.odometry and idle.motion  # odometry is always integrated and published
    quiet = NodeConfig.from_values({'publish_odometry': False, 'depth_source': 'network'})
    assert not plan_outputs(quiet, {}, tf=False).motion
    assert plan_outputs(quiet, {}, tf=True).motion
    depth_only = plan_outputs(quiet, {'depth': 1, 'depth_color': 2}, tf=False)
    assert depth_only.depth and depth_only.depth_color and not depth_only.motion
    points = plan_outputs(quiet, {'points': 1}, tf=False)
    assert points.points and points.motion  # dropping moving points needs the mask
    keep_moving = NodeConfig.from_values({'publish_odometry': False, 'depth_source': 'network',
                                          'points_drop_moving': False})
    assert not plan_outputs(keep_moving, {'points': 1}, tf=False).motion
    assert plan_outputs(quiet, {'mask_overlay': 1}, tf=False).motion
    # fused depth is measured from the camera's motion: a depth subscriber runs the motion
    fused = NodeConfig.from_values({'publish_odometry': False, 'depth_source': 'fused'})
    assert not plan_outputs(fused, {}, tf=False).motion
    for output in ('depth', 'depth_color', 'confidence', 'points'):
        assert plan_outputs(fused, {output: 1}, tf=False).motion, output


def test_latest_frame_slot_drops_old_frames() -> None:
    slot = LatestFrameSlot()
    assert slot.take(timeout=0.0) is None
    assert not slot.put(1)
    assert slot.put(2) and slot.put(3)
    assert slot.take(timeout=0.0) == 3 and slot.dropped == 2
    assert slot.take(timeout=0.01) is None
    slot.close()
    assert slot.take(timeout=None) is None  # closed: returns at once
