"""The launch file and its logic: arguments, rviz2, what the node's exit does, rviz2 config.

`launch` / `launch_ros` are not installable here, so the launch file runs against small stand-ins
of the stable API it imports (`launch_stubs`), which record the actions it returns; the logic
itself is in rmdepth_ros.ros.launch_config (plain functions). How `ros2 launch` turns an exception
raised in an event handler into exit status 1: launch's LaunchService.run_async catches it, logs
"Caught exception in launch", shuts down and returns 1 (the same since Humble).
"""

from __future__ import annotations

import ast
import importlib.util
import os
from pathlib import Path
import sys
import tempfile
import types

import pytest
import yaml

from rmdepth_ros.ros.launch_config import (
    LAUNCH_ARGUMENTS,
    NODE_PARAMETER_ARGUMENTS,
    NodeFailed,
    command_line_arguments,
    find_rviz2,
    launch_arguments,
    node_exit_reason,
    node_settings,
    remove_rviz_config,
    rviz_config_text,
    write_rviz_config,
)
from rmdepth_ros.ros.node_config import SPECS, ParamSpec

ROOT = Path(__file__).resolve().parent.parent
YAML = ROOT / 'config' / 'rmdepth.yaml'
RVIZ = ROOT / 'config' / 'rmdepth.rviz'
LAUNCH = ROOT / 'launch' / 'depth.launch.py'


@pytest.fixture
def with_rviz2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An ament prefix holding a package 'rviz2' with its executable, first on the path."""
    prefix = tmp_path / 'rviz_prefix'
    marker = prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'rviz2'
    marker.parent.mkdir(parents=True)
    marker.write_text('')
    executable = prefix / 'lib' / 'rviz2' / 'rviz2'
    executable.parent.mkdir(parents=True)
    executable.write_text('#!/bin/sh\n')
    monkeypatch.setenv('AMENT_PREFIX_PATH', os.pathsep.join(
        [str(prefix), os.environ.get('AMENT_PREFIX_PATH', '')]).rstrip(os.pathsep))
    return executable


@pytest.fixture
def without_rviz2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No rviz2 on the ament path; temporary folders go to a fresh folder (returned)."""
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(tmp_path / 'empty_prefix'))
    temporary = tmp_path / 'tmp'
    temporary.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(temporary))
    return temporary


# -- launch ---------------------------------------------------------------------------------

def test_launch_defaults() -> None:
    settings = node_settings({})
    assert (settings['executable'], settings['name'], settings['namespace']) == (
        'rmdepth_node', 'rmdepth_node', '')
    params_file, overrides = settings['parameters']
    assert Path(params_file).resolve() == YAML.resolve()
    assert overrides == {'use_sim_time': False}  # everything else comes from the YAML
    assert dict(settings['remappings']) == {'image': '/camera/image_raw',
                                            'image/compressed': '/camera/image_raw/compressed',
                                            'camera_info': '/camera/camera_info'}
    assert not settings['rviz']['enabled']
    assert Path(settings['rviz']['config']).resolve() == RVIZ.resolve()


def test_launch_with_every_argument(tmp_path: Path, with_rviz2: Path) -> None:
    params = tmp_path / 'mine.yaml'
    params.write_text(YAML.read_text())
    settings = node_settings({
        'image': 'front/image', 'camera_info': '/front/info', 'weights': '/w.safetensors',
        'device': 'cuda:0', 'namespace': '/robot/', 'params_file': str(params),
        'use_sim_time': 'True', 'rviz': '1', 'backend': 'torch', 'precision': 'fp16',
        'resize': 'crop', 'motion_source': 'network', 'depth_source': 'network', 'adapt': 'TRUE',
        'scale_mode': 'fixed', 'image_transport': 'compressed'})
    assert settings['namespace'] == 'robot'
    assert settings['parameters'] == [str(params), {
        'use_sim_time': True, 'weights': '/w.safetensors', 'device': 'cuda:0',
        'backend': 'torch', 'precision': 'fp16', 'resize': 'crop', 'motion_source': 'network',
        'depth_source': 'network', 'adapt': True, 'scale_mode': 'fixed',
        'image_transport': 'compressed'}]
    assert ('image/compressed', 'front/image/compressed') in settings['remappings']
    assert settings['rviz']['enabled']
    topics = settings['rviz']['topics']
    assert topics['Input image'] == '/robot/front/image'
    assert topics['Depth'] == '/robot/depth/color' and topics['Path'] == '/robot/odom/path'
    written = yaml.safe_load(write_rviz_config(settings, tmp_path).read_text())
    shown = {d['Name']: d['Topic']['Value']
             for d in written['Visualization Manager']['Displays'] if 'Topic' in d}
    assert shown == topics


@pytest.mark.parametrize('args, expected', [
    ({'use_sim_time': 'maybe'}, 'use_sim_time'),
    ({'rviz': 'sometimes'}, 'rviz'),
    ({'params_file': '/no/such/file.yaml'}, 'params_file not found'),
    ({'image': ''}, 'image'),
    ({'camera': '/x'}, 'unknown launch argument'),
    ({'camra_info': '/x'}, "did you mean 'camera_info'"),
    ({'points_stride': '3'}, 'node parameter without a launch argument'),
    ({'backend': 'tensorrt'}, "parameter 'backend': 'tensorrt' is not one of"),
    ({'adapt': 'perhaps'}, r"adapt:='perhaps' is not true or false"),
    ({'device': 'gpu'}, "parameter 'device'"),
    ({'adapt': 'true', 'backend': 'openvino'}, 'runs on backend torch only'),
])
def test_launch_argument_errors(args: dict, expected: str) -> None:
    with pytest.raises(ValueError, match=expected) as error:
        node_settings(args)
    assert '\n' not in str(error.value)


def test_node_parameter_arguments_follow_the_node_table() -> None:
    """Each is a declared node parameter, described as the node describes it, default empty
    (the params_file's value); an argument appears only once the node declares it."""
    node_arguments = [n for n in LAUNCH_ARGUMENTS if n in NODE_PARAMETER_ARGUMENTS]
    assert {'weights', 'device', 'backend', 'resize', 'motion_source', 'depth_source',
            'adapt'} <= set(node_arguments)
    assert set(node_arguments) == set(NODE_PARAMETER_ARGUMENTS) & set(SPECS)
    for name in node_arguments:
        default, description = LAUNCH_ARGUMENTS[name]
        assert default == '' and SPECS[name].description in description
    depth_source = ParamSpec('depth_source', 'fused', 'depth: fused or network',
                             choices=('fused', 'network'))
    with_it = launch_arguments({**SPECS, 'depth_source': depth_source})
    assert with_it['depth_source'] == ('', "node parameter: depth: fused or network. Not given: "
                                           "the params_file's value (config/rmdepth.yaml: fused)")


@pytest.mark.parametrize('argv, expected', [
    (['ros2', 'launch', 'rmdepth_ros', 'depth.launch.py', 'adapt:=true', '-d', 'x:=1'],
     ['adapt', 'x']),
    (['ros2', 'launch', str(LAUNCH), 'image:=/a', '--show-args'], ['image']),
    (['ros2', 'launch', 'rmdepth_ros', 'depth.launch.py'], []),
    # another launch file including this one: its arguments are its own business
    (['ros2', 'launch', 'my_robot', 'depth.launch.py', 'robot:=r2'], None),
    (['ros2', 'launch', 'my_robot', 'bringup.launch.py', 'robot:=r2'], None),
    (['pytest', '-q'], None),
])
def test_command_line_arguments(argv: list, expected: list | None) -> None:
    assert command_line_arguments(argv, LAUNCH) == expected


STABLE_LAUNCH_API = {
    'launch': {'LaunchDescription'},
    'launch.actions': {'DeclareLaunchArgument', 'OpaqueFunction', 'GroupAction',
                       'IncludeLaunchDescription', 'RegisterEventHandler', 'Shutdown'},
    'launch.conditions': {'IfCondition', 'UnlessCondition'},
    'launch.event_handlers': {'OnProcessExit', 'OnShutdown'},
    'launch.substitutions': {'LaunchConfiguration'},
    'launch_ros.actions': {'Node', 'PushRosNamespace'},
    'rmdepth_ros.ros.launch_config': {'LAUNCH_ARGUMENTS', 'command_line_arguments',
                                      'node_settings', 'write_rviz_config',
                                      'remove_rviz_config', 'node_exit_reason'},
}


def test_launch_file_uses_only_the_stable_api() -> None:
    tree = ast.parse(LAUNCH.read_text())
    imported = [(n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                for a in n.names]
    assert imported and all(name in STABLE_LAUNCH_API.get(module, ()) for module, name in
                            imported), imported
    # (without launch installed, 'launch' would import this repository's launch/ folder)
    launch = pytest.importorskip('launch.actions', reason='launch is not installed')
    spec = importlib.util.spec_from_file_location('depth_launch', LAUNCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    declared = {e.name for e in description.entities
                if isinstance(e, launch.DeclareLaunchArgument)}
    assert declared == set(LAUNCH_ARGUMENTS)


# -- the launch file, run against stand-ins of the launch API ------------------------------

class Recorded:
    """A launch entity as the launch file built it: its class name and arguments."""

    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


class LaunchConfiguration(Recorded):
    def perform(self, context: dict) -> str:
        return context.get(self.args[0], LAUNCH_ARGUMENTS[self.args[0]][0])


STUBBED = {
    'launch': ['LaunchDescription'],
    'launch.actions': ['DeclareLaunchArgument', 'OpaqueFunction', 'RegisterEventHandler',
                       'Shutdown'],
    'launch.event_handlers': ['OnProcessExit', 'OnShutdown'],
    'launch.substitutions': [],
    'launch_ros': [],
    'launch_ros.actions': ['Node'],
}


def launch_entities(monkeypatch: pytest.MonkeyPatch, **args: str) -> list[Recorded]:
    """Load launch/depth.launch.py against the stand-ins and run its set-up with `args`."""
    for module_name, class_names in STUBBED.items():
        module = types.ModuleType(module_name)
        for name in class_names:
            setattr(module, name, type(name, (Recorded,), {}))
        monkeypatch.setitem(sys.modules, module_name, module)
    sys.modules['launch.substitutions'].LaunchConfiguration = LaunchConfiguration
    spec = importlib.util.spec_from_file_location('depth_launch_under_test', LAUNCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    entities = description.args[0]
    declared = [e.args[0] for e in entities if type(e).__name__ == 'DeclareLaunchArgument']
    assert declared == list(LAUNCH_ARGUMENTS)
    setup = entities[-1].kwargs['function']
    return setup(dict(args))


def of_kind(entities: list[Recorded], kind: str) -> list[Recorded]:
    return [e for e in entities if type(e).__name__ == kind]


def exit_handler(entities: list[Recorded]):
    handlers = [e.args[0] for e in of_kind(entities, 'RegisterEventHandler')
                if type(e.args[0]).__name__ == 'OnProcessExit']
    assert len(handlers) == 1
    return handlers[0]


def test_node_failure_ends_the_launch_with_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    entities = launch_entities(monkeypatch)
    nodes = of_kind(entities, 'Node')
    assert [n.kwargs['executable'] for n in nodes] == ['rmdepth_node']
    handler = exit_handler(entities)
    assert handler.kwargs['target_action'] is nodes[0]
    on_exit = handler.kwargs['on_exit']
    running = types.SimpleNamespace(is_shutdown=False)
    with pytest.raises(NodeFailed, match='rmdepth_node exited with status 1 '):
        on_exit(types.SimpleNamespace(returncode=1), running)
    (shutdown,) = on_exit(types.SimpleNamespace(returncode=0), running)
    assert type(shutdown).__name__ == 'Shutdown'
    assert shutdown.kwargs['reason'] == 'rmdepth_node exited'
    # stopped by the launch itself (Ctrl-C): nothing more to do, whatever the status
    stopping = types.SimpleNamespace(is_shutdown=True)
    assert on_exit(types.SimpleNamespace(returncode=-2), stopping) == []


def test_undeclared_command_line_arguments_stop_the_launch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """launch itself sets `backnd:=torch` as a configuration nobody reads; the file refuses."""
    monkeypatch.setattr(sys, 'argv', ['ros2', 'launch', 'rmdepth_ros', 'depth.launch.py',
                                      'adapt:=true', 'backnd:=torch'])
    with pytest.raises(ValueError, match=r"unknown launch argument\(s\): backnd \('backnd': "
                                         "did you mean 'backend'"):
        launch_entities(monkeypatch, adapt='true', backnd='torch')
    monkeypatch.setattr(sys, 'argv', ['ros2', 'launch', 'rmdepth_ros', 'depth.launch.py',
                                      'adapt:=true', 'backend:=torch'])
    (node,) = of_kind(launch_entities(monkeypatch, adapt='true', backend='torch'), 'Node')
    assert node.kwargs['parameters'][1] == {'use_sim_time': False, 'backend': 'torch',
                                            'adapt': True}


def test_rviz_without_rviz2_starts_nothing(monkeypatch: pytest.MonkeyPatch,
                                          without_rviz2: Path) -> None:
    assert find_rviz2() is None
    with pytest.raises(ValueError) as error:
        launch_entities(monkeypatch, rviz='true')
    message = str(error.value)
    assert 'rviz2 is not installed' in message and 'nothing was started' in message
    assert '\n' not in message
    assert list(without_rviz2.iterdir()) == []  # no rmdepth_rviz_* folder left behind
    assert of_kind(launch_entities(monkeypatch, rviz='false'), 'Node')  # without rviz: fine


def test_rviz_config_is_removed_at_shutdown(monkeypatch: pytest.MonkeyPatch, with_rviz2: Path,
                                            without_rviz2: Path) -> None:
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(with_rviz2.parents[2]))
    assert find_rviz2() == with_rviz2
    entities = launch_entities(monkeypatch, rviz='true', namespace='robot')
    rviz = [n for n in of_kind(entities, 'Node') if n.kwargs['executable'] == 'rviz2']
    assert len(rviz) == 1
    config = Path(rviz[0].kwargs['arguments'][1])
    assert config.is_file() and config.parent.parent == without_rviz2
    assert yaml.safe_load(config.read_text())['Visualization Manager']
    on_shutdown = [e.args[0] for e in of_kind(entities, 'RegisterEventHandler')
                   if type(e.args[0]).__name__ == 'OnShutdown']
    assert len(on_shutdown) == 1
    on_shutdown[0].kwargs['on_shutdown'](None, None)
    assert list(without_rviz2.iterdir()) == []


def test_node_exit_reason() -> None:
    assert node_exit_reason(0, shutting_down=False) == 'rmdepth_node exited'
    assert node_exit_reason(1, shutting_down=True) is None
    with pytest.raises(NodeFailed, match='status -11'):
        node_exit_reason(-11, shutting_down=False)


def test_remove_rviz_config_keeps_other_folders(tmp_path: Path) -> None:
    path = write_rviz_config(node_settings({}), tmp_path)
    remove_rviz_config(path)
    assert not path.exists() and tmp_path.is_dir()


# -- rviz2 -------------------------------------------------------------------------------------

def test_rviz_config_shows_every_output_with_matching_qos() -> None:
    config = yaml.safe_load(RVIZ.read_text())
    assert {'Panels', 'Visualization Manager', 'Window Geometry'} <= set(config)
    manager = config['Visualization Manager']
    assert manager['Global Options']['Fixed Frame'] == 'odom'
    assert manager['Tools'] and manager['Views']['Current']['Class']
    displays = {d['Name']: d for d in manager['Displays']}
    classes = {d['Class'] for d in displays.values()}
    assert {'rviz_default_plugins/Image', 'rviz_default_plugins/PointCloud2',
            'rviz_default_plugins/Odometry', 'rviz_default_plugins/Path',
            'rviz_default_plugins/TF'} <= classes
    for name in ('Depth', 'Flow', 'Motion mask', 'Points', 'Odometry', 'Path'):
        assert displays[name]['Topic']['Reliability Policy'] == 'Reliable', name
    assert displays['Input image']['Topic']['Reliability Policy'] == 'Best Effort'
    assert displays['Points']['Color Transformer'] == 'RGB8'
    # rewriting keeps it a valid configuration
    assert yaml.safe_load(rviz_config_text(node_settings({'namespace': 'ns'})))


# -- the node as the launch starts it ----------------------------------------------------------

#: A value other than the default for each node-parameter launch argument (strings, as typed).
GIVEN = {'device': 'cpu', 'backend': 'torch', 'precision': 'fp32', 'resize': 'crop',
         'motion_source': 'network', 'depth_source': 'network', 'adapt': 'true',
         'scale_mode': 'fixed', 'image_transport': 'compressed'}


@pytest.mark.ros
@pytest.mark.slow
def test_every_node_parameter_argument_reaches_the_node(tiny_weights: Path,
                                                        tmp_path: Path) -> None:
    """Start rmdepth_node as launch_ros does for `ros2 launch ... name:=value` with every
    node-parameter argument (the params file, then the overrides as a second params file under
    '/**') and read each parameter back through its parameter service."""
    from rcl_interfaces.srv import GetParameters
    import rclpy
    import rclpy.executors
    from rclpy.parameter import parameter_value_to_python
    from test_node_startup import NodeProcess, call  # (a real rmdepth_node process)

    args = {name: GIVEN[name] for name in LAUNCH_ARGUMENTS if name in GIVEN}
    args['weights'] = str(tiny_weights)
    assert set(args) == set(NODE_PARAMETER_ARGUMENTS) & set(SPECS)
    params_file, overrides = node_settings(args)['parameters']
    overrides_file = tmp_path / 'launch_params.yaml'
    overrides_file.write_text(yaml.dump({'/**': {'ros__parameters': overrides}}))
    running = NodeProcess(['--ros-args', '-r', '__ns:=/startup_probe', '--params-file',
                           params_file, '--params-file', str(overrides_file)])
    try:
        running.wait_line('listening on')
        context = rclpy.Context()
        rclpy.init(context=context)
        try:
            client_node = rclpy.create_node('launch_param_client', context=context)
            executor = rclpy.executors.SingleThreadedExecutor(context=context)
            executor.add_node(client_node)
            names = sorted(set(args))
            values = call(executor, client_node, GetParameters, 'get_parameters',
                          GetParameters.Request(names=names)).values
            read = {n: parameter_value_to_python(v) for n, v in zip(names, values, strict=True)}
            executor.shutdown()
            client_node.destroy_node()
        finally:
            rclpy.shutdown(context=context)
    finally:
        running.process.send_signal(2)
        code, output = running.finish()
    expected = {name: overrides[name] for name in args}
    assert read == expected, output
    assert expected['adapt'] is True and expected['backend'] == 'torch'
    assert code == 0, output
