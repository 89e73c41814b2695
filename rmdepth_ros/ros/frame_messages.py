"""The image and point-cloud messages of one processed frame, built without publishing.

The node builds every message of a frame first and publishes afterwards, so a failure while
converting leaves nothing half-published. Each message carries the input image's header;
which ones are built follows the output plan (only what has a subscriber). Odometry and TF
are `odometry_messages` (they carry state from frame to frame).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rmdepth_ros.inference import EstimatorOutput
from rmdepth_ros.ros.conversions import (
    array_to_image,
    colorize_depth,
    colorize_flow,
    depth_to_pointcloud2,
    intrinsics_to_camera_info,
    overlay_mask,
)
from rmdepth_ros.ros.node_config import NodeConfig
from rmdepth_ros.ros.output_plan import OutputPlan


def frame_messages(header: Any, image: np.ndarray, depth: np.ndarray, out: EstimatorOutput,
                   plan: OutputPlan, config: NodeConfig) -> list[tuple[str, Any]]:
    """[(output name of output_plan.TOPICS, message)] for one frame.

    image: the input, uint8 (H, W, 3) RGB or (H, W) gray. depth: (H, W) float32 metres, the
    published scale. out: the estimator's output for the frame (flow and mask may be None).
    """
    return (_depth(header, depth, out.intrinsics, plan) + _confidence(header, out, plan)
            + _views(header, image, depth, out, plan, config)
            + _points(header, image, depth, out, plan, config))


def _depth(header: Any, depth: np.ndarray, K: np.ndarray,
           plan: OutputPlan) -> list[tuple[str, Any]]:
    outgoing = []
    if plan.depth:
        outgoing.append(('depth', array_to_image(depth, '32FC1', header)))
    if plan.depth_info:
        height, width = depth.shape
        outgoing.append(('depth_info', intrinsics_to_camera_info(K, width, height, header)))
    return outgoing


def _confidence(header: Any, out: EstimatorOutput, plan: OutputPlan
                ) -> list[tuple[str, Any]]:
    """depth/confidence: 32FC1 relative 1-sigma of depth (sigma_z / z, unitless, so it holds
    at any published scale); depth_source 'network' publishes the network's prior error."""
    if not plan.confidence or out.confidence is None:
        return []
    return [('confidence', array_to_image(out.confidence, '32FC1', header))]


def _views(header: Any, image: np.ndarray, depth: np.ndarray, out: EstimatorOutput,
           plan: OutputPlan, config: NodeConfig) -> list[tuple[str, Any]]:
    outgoing = []
    if plan.depth_color:
        colour = colorize_depth(depth, config.depth_color_min, config.depth_color_max)
        outgoing.append(('depth_color', array_to_image(colour, 'bgr8', header)))
    if out.flow is not None and plan.flow:
        outgoing.append(('flow', array_to_image(out.flow, '32FC2', header)))
    if out.flow is not None and plan.flow_color:
        colour = colorize_flow(out.flow, config.flow_color_max or None)
        outgoing.append(('flow_color', array_to_image(colour, 'bgr8', header)))
    if out.motion_mask is not None and plan.mask:
        mono = out.motion_mask.astype(np.uint8) * np.uint8(255)
        outgoing.append(('mask', array_to_image(mono, 'mono8', header)))
    if out.motion_mask is not None and plan.mask_overlay:
        overlay = overlay_mask(image, out.motion_mask)
        outgoing.append(('mask_overlay', array_to_image(overlay, 'bgr8', header)))
    return outgoing


def _points(header: Any, image: np.ndarray, depth: np.ndarray, out: EstimatorOutput,
            plan: OutputPlan, config: NodeConfig) -> list[tuple[str, Any]]:
    if not plan.points:
        return []
    drop = out.motion_mask if config.points_drop_moving else None
    cloud = depth_to_pointcloud2(depth, out.intrinsics, header,
                                 rgb=image if config.points_rgb else None, mask_drop=drop,
                                 stride=config.points_stride)
    return [('points', cloud)]
