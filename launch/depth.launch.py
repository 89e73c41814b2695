"""Start rmdepth_node (and optionally rviz2).

    ros2 launch rmdepth_ros depth.launch.py image:=/camera/image_raw \\
        camera_info:=/camera/camera_info [weights:=FILE] [device:=cuda] [backend:=openvino] \\
        [adapt:=true] [namespace:=robot] [params_file:=my.yaml] [use_sim_time:=true] [rviz:=true]

`--show-args` lists every argument with its default. Parameters come from config/rmdepth.yaml
(or params_file); only the node-parameter arguments given here (`--show-args` describes them
as 'node parameter: ...') override it.
Every argument (rviz2's presence included) is checked before anything starts, and a
`name:=value` this file does not declare stops the launch with one line and status 1. If
the node exits, the launch ends: with status 1 and the reason when the node failed (e.g. a
missing weights file), normally when it exited cleanly. The logic lives in
rmdepth_ros.ros.launch_config (plain functions, tested without launch); this file uses only the
launch / launch_ros API stable since Humble.
"""

# (ruff takes `launch` for this repository's launch/ folder; it is the ROS 2 package)
import sys

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, RegisterEventHandler, Shutdown
from launch.event_handlers import OnProcessExit, OnShutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from rmdepth_ros.ros.launch_config import (
    LAUNCH_ARGUMENTS,
    command_line_arguments,
    node_exit_reason,
    node_settings,
    remove_rviz_config,
    write_rviz_config,
)


def _on_node_exit(event, context):
    # raises NodeFailed on a non-zero status: launch logs it, shuts down and returns 1
    reason = node_exit_reason(event.returncode, getattr(context, 'is_shutdown', False))
    return [Shutdown(reason=reason)] if reason else []


def _launch_setup(context, *args, **kwargs):
    given = {name: LaunchConfiguration(name).perform(context) for name in LAUNCH_ARGUMENTS}
    # launch sets undeclared `name:=value` arguments silently; node_settings rejects them
    for name in command_line_arguments(sys.argv, __file__) or ():
        given.setdefault(name, '')
    settings = node_settings(given)
    node = Node(
        package=settings['package'],
        executable=settings['executable'],
        name=settings['name'],
        namespace=settings['namespace'] or None,
        parameters=settings['parameters'],
        remappings=settings['remappings'],
        output='screen',
        emulate_tty=True,
    )
    actions = [node, RegisterEventHandler(OnProcessExit(target_action=node,
                                                        on_exit=_on_node_exit))]
    if settings['rviz']['enabled']:
        config = write_rviz_config(settings)
        actions += [
            RegisterEventHandler(OnShutdown(
                on_shutdown=lambda event, context: remove_rviz_config(config))),
            Node(
                package='rviz2',
                executable='rviz2',
                name='rviz2',
                namespace=settings['namespace'] or None,
                arguments=['-d', str(config)],
                parameters=[{'use_sim_time': settings['parameters'][1]['use_sim_time']}],
                output='screen',
            ),
        ]
    return actions


def generate_launch_description() -> LaunchDescription:
    arguments = [DeclareLaunchArgument(name, default_value=default, description=description)
                 for name, (default, description) in LAUNCH_ARGUMENTS.items()]
    return LaunchDescription(arguments + [OpaqueFunction(function=_launch_setup)])
