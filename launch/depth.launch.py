"""Start rmdepth_node (and optionally rviz2).

    ros2 launch rmdepth_ros depth.launch.py image:=/camera/image_raw \\
        camera_info:=/camera/camera_info [weights:=FILE] [device:=cuda] [namespace:=robot] \\
        [params_file:=my.yaml] [use_sim_time:=true] [rviz:=true]

Parameters come from config/rmdepth.yaml (or params_file); only the arguments given here
override it. The logic lives in rmdepth_ros.launch_config (plain functions, tested without
launch); this file uses only the launch / launch_ros API stable since Humble.
"""

# (ruff takes `launch` for this repository's launch/ folder; it is the ROS 2 package)
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from rmdepth_ros.launch_config import LAUNCH_ARGUMENTS, node_settings, write_rviz_config


def _launch_setup(context, *args, **kwargs):
    settings = node_settings({name: LaunchConfiguration(name).perform(context)
                              for name in LAUNCH_ARGUMENTS})
    actions = [Node(
        package=settings['package'],
        executable=settings['executable'],
        name=settings['name'],
        namespace=settings['namespace'] or None,
        parameters=settings['parameters'],
        remappings=settings['remappings'],
        output='screen',
        emulate_tty=True,
    )]
    if settings['rviz']['enabled']:
        actions.append(Node(
            package='rviz2',
            executable='rviz2',
            name='rviz2',
            namespace=settings['namespace'] or None,
            arguments=['-d', str(write_rviz_config(settings))],
            parameters=[{'use_sim_time': settings['parameters'][1]['use_sim_time']}],
            output='screen',
        ))
    return actions


def generate_launch_description() -> LaunchDescription:
    arguments = [DeclareLaunchArgument(name, default_value=default, description=description)
                 for name, (default, description) in LAUNCH_ARGUMENTS.items()]
    return LaunchDescription(arguments + [OpaqueFunction(function=_launch_setup)])
