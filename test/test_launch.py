"""The launch file and its logic: arguments, rviz2, what the node's exit does, rviz2 config.

`launch` / `launch_ros` are not installable here, so the launch file runs against small stand-ins
of the stable API it imports (`launch_stubs`), which record the actions it returns; the logic
itself is in rmdepth_ros.launch_config (plain functions). How `ros2 launch` turns an exception
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

from rmdepth_ros.launch_config import (
    LAUNCH_ARGUMENTS,
    NodeFailed,
    find_rviz2,
    node_exit_reason,
    node_settings,
    remove_rviz_config,
    rviz_config_text,
    write_rviz_config,
)

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
        'use_sim_time': 'True', 'rviz': '1'})
    assert settings['namespace'] == 'robot'
    assert settings['parameters'] == [str(params), {'use_sim_time': True,
                                                    'weights': '/w.safetensors',
                                                    'device': 'cuda:0'}]
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
])
def test_launch_argument_errors(args: dict, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        node_settings(args)


STABLE_LAUNCH_API = {
    'launch': {'LaunchDescription'},
    'launch.actions': {'DeclareLaunchArgument', 'OpaqueFunction', 'GroupAction',
                       'IncludeLaunchDescription', 'RegisterEventHandler', 'Shutdown'},
    'launch.conditions': {'IfCondition', 'UnlessCondition'},
    'launch.event_handlers': {'OnProcessExit', 'OnShutdown'},
    'launch.substitutions': {'LaunchConfiguration'},
    'launch_ros.actions': {'Node', 'PushRosNamespace'},
    'rmdepth_ros.launch_config': {'LAUNCH_ARGUMENTS', 'node_settings', 'write_rviz_config',
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
