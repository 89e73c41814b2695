"""Which outputs to compute for a frame: only those someone listens to.

Publishers exist for every enabled `publish_*` switch; per frame, an output is computed and
converted only while its topic has subscribers. Odometry is the exception: it integrates every
frame (subscribed or not, and for TF) so that it stays continuous, which also keeps the motion
network running whenever odometry or TF is on; with depth_source 'fused' a subscribed depth
output needs it too (that depth is measured from the camera's motion).
"""

from __future__ import annotations

from dataclasses import dataclass

from rmdepth_ros.ros.node_config import NodeConfig

#: Output name -> topic (relative, so namespaces and remappings apply).
TOPICS = {
    'depth': 'depth',
    'depth_info': 'depth/camera_info',
    'depth_color': 'depth/color',
    'confidence': 'depth/confidence',
    'flow': 'flow',
    'flow_color': 'flow/color',
    'mask': 'motion_mask',
    'mask_overlay': 'motion_mask/overlay',
    'points': 'points',
    'odometry': 'odom',
    'path': 'odom/path',
}

#: Output name -> the switch that enables its publisher.
SWITCHES = {
    'depth': 'publish_depth', 'depth_info': 'publish_depth',
    'depth_color': 'publish_depth_color', 'confidence': 'publish_confidence',
    'flow': 'publish_flow',
    'flow_color': 'publish_flow_color', 'mask': 'publish_mask',
    'mask_overlay': 'publish_mask_overlay', 'points': 'publish_points',
    'odometry': 'publish_odometry', 'path': 'publish_odometry',
}


@dataclass(frozen=True)
class OutputPlan:
    """What one frame computes and publishes; `motion` = run the motion network."""

    depth: bool = False
    depth_info: bool = False
    depth_color: bool = False
    confidence: bool = False
    flow: bool = False
    flow_color: bool = False
    mask: bool = False
    mask_overlay: bool = False
    points: bool = False
    odometry: bool = False
    path: bool = False
    tf: bool = False
    motion: bool = False


def enabled_outputs(config: NodeConfig) -> list[str]:
    """Output names whose publisher the node creates."""
    return [name for name, switch in SWITCHES.items() if getattr(config, switch)
            and not (name == 'path' and config.path_length == 0)]


def plan_outputs(config: NodeConfig, subscribers: dict[str, int], tf: bool) -> OutputPlan:
    """The plan for one frame.

    subscribers: output name -> current subscription count (missing: no publisher).
    tf: a TF broadcaster exists (publish_tf and tf2_ros importable).
    """
    wanted = {name: subscribers.get(name, 0) > 0 for name in TOPICS}
    wanted['odometry'] = config.publish_odometry
    drop_moving = wanted['points'] and config.points_drop_moving
    motion = (wanted['odometry'] or tf or wanted['flow'] or wanted['flow_color']
              or wanted['mask'] or wanted['mask_overlay'] or drop_moving
              # fused depth is measured from the camera's motion
              or (config.depth_source == 'fused' and (
                  wanted['depth'] or wanted['depth_color'] or wanted['confidence']
                  or wanted['points'])))
    return OutputPlan(**wanted, tf=tf, motion=motion)
