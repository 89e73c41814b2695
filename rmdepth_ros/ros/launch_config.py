"""The logic of launch/depth.launch.py as plain functions (testable without `launch`).

`node_settings(args)` turns the launch arguments (strings, as `LaunchConfiguration`s give them)
into what the launch file hands to `launch_ros.actions.Node`: executable, name, namespace,
parameters (the YAML file plus only the overrides given on the command line, so defaults live in
one place), remappings, and whether rviz2 runs with which configuration. The node parameters that
are launch arguments take their descriptions, types and checks from the node's own table
(`rmdepth_ros.ros.node_config`). Every argument is checked before anything starts, rviz2's
presence included, and so is every `name:=value` on the `ros2 launch` command line
(`command_line_arguments`): a mistake stops the launch with one line and a non-zero status, with
nothing left running.

`write_rviz_config` rewrites the shipped rviz2 configuration's topics for a namespace and an
input topic (into a temporary folder that `remove_rviz_config` deletes at shutdown), and
`node_exit_reason` decides what the node's exit means for the launch: a failure (non-zero
status) ends it with an error and a non-zero status, a clean exit ends it normally.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import difflib
from pathlib import Path
import shutil
import tempfile
from typing import Any

import yaml

from rmdepth_ros.ros.node_config import SPECS, NodeConfig

PACKAGE = 'rmdepth_ros'
EXECUTABLE = 'rmdepth_node'
NODE_NAME = 'rmdepth_node'

#: Node parameters that are also launch arguments (`ros2 launch ... backend:=torch`); empty (the
#: launch default) leaves the params_file's value. A name the node does not declare is left out
#: (`node_parameter_arguments`), so a parameter added to node_config's table appears here by
#: itself when its name is listed.
NODE_PARAMETER_ARGUMENTS = ('weights', 'device', 'backend', 'precision', 'resize',
                            'motion_source', 'depth_source', 'adapt', 'scale_mode',
                            'image_transport')

#: Names `ros2 launch` itself may add to the arguments (--launch-prefix, --launch-prefix-filter).
LAUNCH_OPTIONS = ('launch-prefix', 'launch-prefix-filter')


def _shown(value: Any) -> str:
    """A default as a user types it on the command line."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return f"'{value}'" if value == '' else str(value)


def node_parameter_arguments(specs: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """name -> ('', description) for each of NODE_PARAMETER_ARGUMENTS the node declares.

    specs: node_config.SPECS (name -> ParamSpec); the description is the parameter's own, with
    its default, so that `--show-args` and `ros2 param describe` say the same.
    """
    return {name: ('', f'node parameter: {specs[name].description}. Not given: the '
                       f"params_file's value (config/rmdepth.yaml: {_shown(specs[name].default)})")
            for name in NODE_PARAMETER_ARGUMENTS if name in specs}


def launch_arguments(specs: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """name -> (default, description) of every launch argument, in `--show-args` order."""
    return {
        'image': ('/camera/image_raw', 'input image topic (sensor_msgs/Image; with '
                  "image_transport: compressed, '<image>/compressed' is used)"),
        'camera_info': ('/camera/camera_info', 'input camera_info topic'),
        **node_parameter_arguments(specs),
        'namespace': ('', 'namespace of the node and its output topics'),
        'params_file': ('', 'parameters YAML; empty: config/rmdepth.yaml of the package'),
        'use_sim_time': ('false', 'use /clock (bag replay with --clock)'),
        'rviz': ('false', 'also start rviz2 with config/rmdepth.rviz'),
    }


#: name -> (default, description) of every launch argument.
LAUNCH_ARGUMENTS: dict[str, tuple[str, str]] = launch_arguments(SPECS)

#: rviz2 display name -> output topic (relative to the node's namespace); 'Input image' is
#: the `image` argument.
RVIZ_TOPICS = {
    'Depth': 'depth/color',
    'Depth confidence (relative sigma)': 'depth/confidence',
    'Points': 'points',
    'Flow': 'flow/color',
    'Motion mask': 'motion_mask/overlay',
    'Odometry': 'odom',
    'Path': 'odom/path',
}


class NodeFailed(RuntimeError):
    """The node exited with a non-zero status while the launch was running."""


def share_file(relative: str) -> Path:
    """A file of the package: from the installed share directory (ament index) if the package
    is installed there, else from this source tree."""
    try:
        from ament_index_python.packages import (
            PackageNotFoundError,
            get_package_share_directory,
        )
    except ImportError:
        share = None
    else:
        try:
            share = Path(get_package_share_directory(PACKAGE))
        except (PackageNotFoundError, OSError):  # OSError: AMENT_PREFIX_PATH not set
            share = None
    if share is not None and (share / relative).is_file():
        return share / relative
    return Path(__file__).resolve().parents[2] / relative


def parse_bool(name: str, value: str) -> bool:
    """Launch-style booleans: true/false, 1/0, yes/no (any case); ValueError otherwise."""
    text = str(value).strip().lower()
    if text in ('true', '1', 'yes', 'on'):
        return True
    if text in ('false', '0', 'no', 'off'):
        return False
    raise ValueError(f"launch argument {name}:='{value}' is not true or false")


def resolve(topic: str, namespace: str) -> str:
    """Absolute name of `topic` as seen from `namespace` ('/robot' + 'odom' -> '/robot/odom')."""
    if topic.startswith('/'):
        return topic
    prefix = namespace.strip('/')
    return f'/{prefix}/{topic}' if prefix else f'/{topic}'


def node_settings(args: Mapping[str, str]) -> dict[str, Any]:
    """Everything the launch file needs, from the launch arguments (missing ones: defaults).

    Returns a dict with keys package, executable, name, namespace, parameters (list: YAML path
    then a dict of overrides), remappings (list of (from, to)), and rviz: {enabled, config
    (shipped .rviz path), topics (display name -> absolute topic)}.

    The node-parameter arguments (NODE_PARAMETER_ARGUMENTS) given non-empty are typed and
    validated here (`parameter_overrides`); `args` may hold names from the command line that
    the launch file does not declare, which are an error.

    Raises:
        ValueError: unknown argument, bad boolean, a parameter value the node would reject,
            missing params_file, empty image topic (one line each).
    """
    unknown = sorted(set(args) - set(LAUNCH_ARGUMENTS) - set(LAUNCH_OPTIONS))
    if unknown:
        raise ValueError(unknown_arguments_line(unknown))
    values = {name: str(args.get(name, default)).strip()
              for name, (default, _) in LAUNCH_ARGUMENTS.items()}
    namespace = values['namespace'].strip('/')
    for name in ('image', 'camera_info'):
        if not values[name]:
            raise ValueError(f'launch argument {name} must name a topic')
    params_file = Path(values['params_file']).expanduser() if values['params_file'] \
        else share_file('config/rmdepth.yaml')
    if not params_file.is_file():
        raise ValueError(f'params_file not found: {params_file}')

    overrides: dict[str, Any] = {'use_sim_time': parse_bool('use_sim_time',
                                                             values['use_sim_time'])}
    overrides.update(parameter_overrides(values))
    image = values['image']
    remappings = [('image', image), ('image/compressed', f'{image}/compressed'),
                  ('camera_info', values['camera_info'])]
    rviz = parse_bool('rviz', values['rviz'])
    if rviz and find_rviz2() is None:
        raise ValueError("rviz:=true but rviz2 is not installed (no package 'rviz2' with "
                         'lib/rviz2/rviz2 on AMENT_PREFIX_PATH): install it (e.g. apt install '
                         'ros-$ROS_DISTRO-rviz2) or leave rviz:=false; nothing was started')
    topics = {'Input image': resolve(image, namespace)}
    topics.update({name: resolve(topic, namespace) for name, topic in RVIZ_TOPICS.items()})
    return {
        'package': PACKAGE,
        'executable': EXECUTABLE,
        'name': NODE_NAME,
        'namespace': namespace,
        'parameters': [str(params_file), overrides],
        'remappings': remappings,
        'rviz': {'enabled': rviz,
                 'config': str(share_file('config/rmdepth.rviz')),
                 'topics': topics},
    }


def parameter_overrides(values: Mapping[str, str]) -> dict[str, Any]:
    """The node parameters given as launch arguments (non-empty ones), typed like the parameter
    (adapt:=true -> True) and validated as the node validates them.

    Raises:
        ValueError: a value the node would reject (one line naming the launch argument).
    """
    overrides: dict[str, Any] = {}
    for name in node_parameter_arguments(SPECS):
        text = str(values.get(name, '')).strip()
        if not text:
            continue
        kind = type(SPECS[name].default)
        try:
            if kind is bool:
                overrides[name] = parse_bool(name, text)
            elif kind in (int, float):
                overrides[name] = kind(text)
            else:
                overrides[name] = text
        except ValueError:
            raise ValueError(f"launch argument {name}:='{text}' is not "
                             f'{"true or false" if kind is bool else "a number"}; nothing was '
                             'started') from None
    try:
        NodeConfig.from_values(overrides)
    except ValueError as error:
        raise ValueError(f'launch argument: {error}; nothing was started') from None
    return overrides


def unknown_arguments_line(unknown: Sequence[str]) -> str:
    """One line for launch arguments this launch file does not declare."""
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, list(LAUNCH_ARGUMENTS), n=1, cutoff=0.6)
        if close:
            hints.append(f"'{name}': did you mean '{close[0]}'?")
        elif name in SPECS:
            hints.append(f"'{name}' is a node parameter without a launch argument: set it in "
                         'a params_file')
    return (f"unknown launch argument(s): {', '.join(unknown)}"
            f"{' (' + '; '.join(hints) + ')' if hints else ''}; nothing was started "
            f'(ros2 launch {PACKAGE} depth.launch.py --show-args lists the arguments)')


def command_line_arguments(argv: Sequence[str], launch_file: str | Path) -> list[str] | None:
    """The names of the `name:=value` arguments that `ros2 launch` was given for `launch_file`.

    argv: the `ros2 launch` process's command line (sys.argv). Returns None when the command
    line names another launch file (this one was included by it: then the arguments are that
    file's, and launch passes every configuration on, so none can be called unknown here).
    """
    launch_file = Path(launch_file)
    for index, token in enumerate(argv):
        if ':=' in token or not token.endswith(launch_file.name):
            continue
        by_package = token == launch_file.name and index > 0 and argv[index - 1] == PACKAGE
        by_path = Path(token).name == launch_file.name and Path(token).exists() and (
            Path(token).resolve() == launch_file.resolve())
        if by_package or by_path:
            return [arg.split(':=', 1)[0] for arg in argv[index + 1:] if ':=' in arg]
    return None


def rviz_config_text(settings: Mapping[str, Any]) -> str:
    """The shipped rviz2 configuration with its display topics set for these settings."""
    config = yaml.safe_load(Path(settings['rviz']['config']).read_text())
    topics = settings['rviz']['topics']
    for display in config['Visualization Manager']['Displays']:
        topic = topics.get(display.get('Name'))
        if topic is not None:
            display['Topic']['Value'] = topic
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def find_rviz2() -> Path | None:
    """rviz2's executable where `launch_ros` looks for it (`<prefix>/lib/rviz2/rviz2` of the
    package 'rviz2' in the ament index), or None."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    except ImportError:
        return None
    try:
        executable = Path(get_package_prefix('rviz2')) / 'lib' / 'rviz2' / 'rviz2'
    except (PackageNotFoundError, OSError):  # OSError: AMENT_PREFIX_PATH not set
        return None
    return executable if executable.is_file() else None


def write_rviz_config(settings: Mapping[str, Any], directory: str | Path | None = None) -> Path:
    """Write `rviz_config_text` to a new file in `directory` (default: a new temporary folder,
    for `remove_rviz_config` to delete)."""
    directory = Path(directory) if directory is not None else Path(
        tempfile.mkdtemp(prefix='rmdepth_rviz_'))
    path = directory / 'rmdepth.rviz'
    path.write_text(rviz_config_text(settings))
    return path


def remove_rviz_config(path: str | Path) -> None:
    """Delete a configuration `write_rviz_config` made in a temporary folder, and the folder."""
    folder = Path(path).parent
    if folder.name.startswith('rmdepth_rviz_'):
        shutil.rmtree(folder, ignore_errors=True)
    else:
        Path(path).unlink(missing_ok=True)


def node_exit_reason(returncode: int | None, shutting_down: bool) -> str | None:
    """What the node's exit means for the launch.

    Returns None while the launch is shutting down anyway (it stopped the node), else the
    reason to shut the launch down with after a clean exit (status 0).

    Raises:
        NodeFailed: the node exited with a non-zero status (it failed at start-up, its FATAL
            line says why, or it crashed); raised from the launch's event handler, this makes
            `ros2 launch` log it, stop everything and exit with status 1.
    """
    if shutting_down:
        return None
    if returncode:
        raise NodeFailed(f'{NODE_NAME} exited with status {returncode} (see its FATAL line '
                         'above): shutting the launch down')
    return f'{NODE_NAME} exited'
