"""The parameters of rmdepth_node: declared once, read into one frozen dataclass, validated.

`PARAMETERS` is the single table: name, default, description, allowed values or range, and
whether a change needs a restart (read-only). From it come the ROS parameter descriptors
(`parameter_declaration.py`), the validation of values (`NodeConfig.from_values`) and the
check that `config/rmdepth.yaml` holds only declared names (test_node_params). Validation
errors are `ValueError`s with one line naming the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
import math
from typing import Any

import numpy as np

from rmdepth_ros.device import PRECISION_CHOICES
from rmdepth_ros.geometry.depth_from_motion import DEFAULT_DEPTH_SOURCE, DEPTH_SOURCES
from rmdepth_ros.motion.hybrid import DEFAULT_MOTION_SOURCE, MOTION_SOURCES
from rmdepth_ros.resize import DEFAULT_RESIZE, RESIZE_MODES

NODE_NAME = 'rmdepth_node'

#: Output switches, in publishing order; each names the topic it controls.
PUBLISH_SWITCHES = ('publish_depth', 'publish_depth_color', 'publish_flow', 'publish_flow_color',
                    'publish_mask', 'publish_mask_overlay', 'publish_points',
                    'publish_odometry')


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: default (also fixes the type), description, constraints.

    choices: allowed string values ('cuda:N' means 'cuda:' followed by digits).
    bounds: (min, max) for numbers, inclusive; (min, max, step) for integers with a step.
    """

    name: str
    default: Any
    description: str
    choices: tuple[str, ...] = ()
    bounds: tuple[float, ...] | None = None
    read_only: bool = True
    array: bool = False  # a list of floats (default: empty)


def _switch(name: str, topic: str) -> ParamSpec:
    return ParamSpec(name, True, f"publish '{topic}' (computed only while someone subscribes)")


PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec('weights', '', 'weights file (.safetensors); empty: the weights shipped with the '
              'package'),
    ParamSpec('device', 'auto', 'inference device: auto (CUDA if available, else CPU), cpu, '
              'cuda or cuda:N', choices=('auto', 'cpu', 'cuda', 'cuda:N')),
    ParamSpec('precision', 'auto', 'inference precision: auto (fp32 on the CPU; on CUDA the '
              'default measured by bench/bench_gpu.py, rmdepth_ros/cuda_defaults.json), fp32, '
              'or fp16 / bf16 (need CUDA)', choices=PRECISION_CHOICES),
    ParamSpec('backend', 'auto', 'where the networks run: auto (on CUDA or with fp16/bf16: '
              'torch; on the CPU the fastest installed: openvino, else onnxruntime, else torch), '
              'torch (PyTorch eager), onnxruntime or openvino (ONNX exports of the weights, made '
              'on first use and cached; fp32; need pip install -r requirements-backends.txt)',
              choices=('auto', 'torch', 'onnxruntime', 'openvino')),
    ParamSpec('input_width', 0, "network input width in pixels, a multiple of 8; 0: the "
              "weights' training size (resize native: width x height is the pixel budget)",
              bounds=(0, 4096, 8)),
    ParamSpec('input_height', 0, "network input height in pixels, a multiple of 8; 0: the "
              "weights' training size", bounds=(0, 4096, 8)),
    ParamSpec('resize', DEFAULT_RESIZE, "how an image whose aspect ratio differs from the "
              "network input's reaches it: native (depth at the image's own aspect with the "
              "input's pixel count, every pixel; motion, flow and masks on the centre crop), "
              'crop (centre crop; outputs NaN outside it), pad (edge-replicated padding) or '
              'stretch', choices=RESIZE_MODES),
    ParamSpec('motion_source', DEFAULT_MOTION_SOURCE, "camera motion: network (the motion "
              "network's) or hybrid (tracked image points + essential matrix, scale from the "
              "network's depth, the network's motion as prior and fallback)",
              choices=MOTION_SOURCES),
    ParamSpec('depth_source', DEFAULT_DEPTH_SOURCE, "depth, flow and masks: fused (the "
              "network's depth refined by what the camera's motion measures: dense flow, "
              "per-pixel triangulation, a temporal filter; the network's alone where nothing is "
              "observed; docs/depth_from_motion.md) or network (the networks' own outputs)",
              choices=DEPTH_SOURCES),
    ParamSpec('image_transport', 'raw', "raw: subscribe to 'image' (sensor_msgs/Image); "
              "compressed: 'image/compressed' (jpeg / png)", choices=('raw', 'compressed')),
    _switch('publish_depth', 'depth'),
    _switch('publish_depth_color', 'depth/color'),
    _switch('publish_confidence', 'depth/confidence'),
    _switch('publish_flow', 'flow'),
    _switch('publish_flow_color', 'flow/color'),
    _switch('publish_mask', 'motion_mask'),
    _switch('publish_mask_overlay', 'motion_mask/overlay'),
    _switch('publish_points', 'points'),
    ParamSpec('publish_odometry', True, "publish 'odom' and 'odom/path'; odometry is computed "
              'every frame (subscribed or not) so that it stays continuous'),
    ParamSpec('points_stride', 2, 'keep every n-th pixel in u and v for the point cloud',
              bounds=(1, 64, 1), read_only=False),
    ParamSpec('points_drop_moving', True, 'leave moving-object pixels out of the point cloud',
              read_only=False),
    ParamSpec('points_rgb', True, "add the input image's colour to the point cloud ('rgb' field)",
              read_only=False),
    ParamSpec('depth_color_min', 1.0, 'depth drawn nearest (red) in depth/color, in the '
              "units of 'depth' (model units or metres: scale_mode)",
              bounds=(0.001, 1e4), read_only=False),
    ParamSpec('depth_color_max', 80.0, 'depth drawn farthest (blue) in depth/color',
              bounds=(0.001, 1e4), read_only=False),
    ParamSpec('flow_color_max', 0.0, 'flow magnitude in pixels drawn fully saturated in '
              "flow/color; 0: each frame's 99th percentile", bounds=(0.0, 1e4),
              read_only=False),
    ParamSpec('odom_frame', 'odom', 'frame of the odometry pose (REP 105)'),
    ParamSpec('base_frame', 'base_link', 'child frame of the odometry (the robot body)'),
    ParamSpec('publish_tf', True, 'broadcast odom_frame -> base_frame on /tf (needs tf2_ros)'),
    ParamSpec('base_to_camera', (), 'camera optical frame in base_frame: [x, y, z, qx, qy, qz, '
              'qw] (metres, unit quaternion); empty: the camera optical frame is the base frame',
              array=True),
    ParamSpec('scale_mode', 'training', 'scale of depth and translation: training (as learned), '
              'camera_height (metric, from the ground plane and camera_height) or fixed '
              '(scale_factor)', choices=('training', 'camera_height', 'fixed')),
    ParamSpec('camera_height', 1.65, 'metres from the ground plane to the camera centre '
              '(scale_mode camera_height)', bounds=(0.01, 100.0), read_only=False),
    ParamSpec('scale_factor', 1.0, 'multiplies depth and translation (scale_mode fixed; in '
              'camera_height mode the value used until the ground scale is established)',
              bounds=(1e-6, 1e6), read_only=False),
    ParamSpec('max_frame_gap', 0.5, 'seconds between frames above which the temporal state '
              'resets', bounds=(0.001, 3600.0), read_only=False),
    ParamSpec('fallback_intrinsics', (), '[fx, fy, cx, cy] in pixels of the input image, used '
              'while no valid camera_info is received; empty: drop such frames', array=True),
    ParamSpec('qos_reliability', 'best_effort', 'reliability of the image and camera_info '
              'subscriptions', choices=('best_effort', 'reliable')),
    ParamSpec('qos_depth', 5, 'history depth of the image and camera_info subscriptions',
              bounds=(1, 1000, 1)),
    ParamSpec('path_length', 1000, "poses kept in 'odom/path'; 0: no path",
              bounds=(0, 1_000_000, 1)),
    ParamSpec('diagnostics_period', 1.0, 'seconds between /diagnostics messages',
              bounds=(0.05, 3600.0)),
    ParamSpec('adapt', False, 'online adaptation: a background thread adapts the depth network '
              'to this camera (self-supervised; motion network frozen; backend torch; needs '
              'the rmdepth_training package)'),
    ParamSpec('adapt_budget', 0.25, 'share of wall time the adaptation thread may compute',
              bounds=(0.01, 1.0)),
    ParamSpec('adapt_lr', 3e-5, 'adaptation learning rate (Adam)', bounds=(1e-7, 1e-2)),
    ParamSpec('adapt_batch', 4, 'triplets per adaptation step', bounds=(1, 64, 1)),
    ParamSpec('adapt_buffer', 128, 'recent frame triplets kept for adaptation (replay buffer)',
              bounds=(4, 100000, 1)),
    ParamSpec('adapt_validate_every', 10, 'adaptation steps between validations on held-back '
              'recent triplets (a better candidate is swapped in, a diverged one reverted)',
              bounds=(1, 100000, 1)),
    ParamSpec('adapt_replay', 0.25, 'share of every adaptation batch that is a fresh synthetic '
              'triplet with ground truth, against forgetting (0: only this camera)',
              bounds=(0.0, 0.9)),
    ParamSpec('adapt_anchor', 0.0, 'after every adaptation step, the share of the way each '
              'adapted weight moves back to its starting value (L2-SP; less forgetting of other '
              'cameras, less adaptation: docs/adaptation.md); 0: none', bounds=(0.0, 0.5)),
    ParamSpec('adapt_pseudo_depth', 1.0, 'weight of the adaptation loss that pulls the '
              "network's depth towards the node's own fused depth of the trained frame "
              "(depth_source fused; 0: the photometric loss only; docs/adaptation.md)",
              bounds=(0.0, 100.0)),
    ParamSpec('adapt_save_path', 'rmdepth_adapted.safetensors', "where '~/save_weights' writes "
              'the adapted weights (relative paths: from the working directory)'),
)

SPECS: dict[str, ParamSpec] = {spec.name: spec for spec in PARAMETERS}


@dataclass(frozen=True)
class NodeConfig:
    """The validated parameters of rmdepth_node (see `PARAMETERS` for meanings and units)."""

    weights: str
    device: str
    precision: str
    backend: str
    input_width: int
    input_height: int
    resize: str
    motion_source: str
    depth_source: str
    image_transport: str
    publish_depth: bool
    publish_depth_color: bool
    publish_confidence: bool
    publish_flow: bool
    publish_flow_color: bool
    publish_mask: bool
    publish_mask_overlay: bool
    publish_points: bool
    publish_odometry: bool
    points_stride: int
    points_drop_moving: bool
    points_rgb: bool
    depth_color_min: float
    depth_color_max: float
    flow_color_max: float
    odom_frame: str
    base_frame: str
    publish_tf: bool
    base_to_camera: tuple[float, ...]
    scale_mode: str
    camera_height: float
    scale_factor: float
    max_frame_gap: float
    fallback_intrinsics: tuple[float, ...]
    qos_reliability: str
    qos_depth: int
    path_length: int
    diagnostics_period: float
    adapt: bool
    adapt_budget: float
    adapt_lr: float
    adapt_batch: int
    adapt_buffer: int
    adapt_validate_every: int
    adapt_replay: float
    adapt_anchor: float
    adapt_pseudo_depth: float
    adapt_save_path: str

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> NodeConfig:
        """Defaults overridden by `values`, each checked; raises ValueError (one line)."""
        unknown = sorted(set(values) - set(SPECS))
        if unknown:
            raise ValueError(f"unknown parameter(s): {', '.join(unknown)}")
        merged = {spec.name: _check(spec, values.get(spec.name, spec.default))
                  for spec in PARAMETERS}
        config = cls(**merged)
        config._check_together()
        return config

    def updated(self, changes: dict[str, Any]) -> NodeConfig:
        """A copy with `changes` applied and validated (for run-time parameter changes)."""
        frozen = sorted(name for name in changes if name in SPECS and SPECS[name].read_only)
        if frozen:
            raise ValueError(f"parameter(s) {', '.join(frozen)} are read-only: restart the node")
        values = {field.name: getattr(self, field.name) for field in fields(self)}
        values.update(changes)
        return NodeConfig.from_values(values)

    @property
    def input_size(self) -> tuple[int, int] | None:
        """(width, height) of the network input, None for the weights' training size."""
        return (self.input_width, self.input_height) if self.input_width else None

    @property
    def fallback_matrix(self) -> np.ndarray | None:
        """(3, 3) float64 K from fallback_intrinsics, pixels of the input image; None if unset."""
        if not self.fallback_intrinsics:
            return None
        fx, fy, cx, cy = self.fallback_intrinsics
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])

    @property
    def base_to_camera_matrix(self) -> np.ndarray | None:
        """(4, 4) T_base_cam (`X_base = T @ X_cam`, metres) from base_to_camera; None if unset."""
        if not self.base_to_camera:
            return None
        from rmdepth_ros.ros.odometry import quaternion_to_matrix

        T = np.eye(4)
        T[:3, :3] = quaternion_to_matrix(self.base_to_camera[3:])
        T[:3, 3] = self.base_to_camera[:3]
        return T

    def _check_together(self) -> None:
        if (self.input_width == 0) != (self.input_height == 0):
            raise ValueError('input_width and input_height must both be 0 (training size) or '
                             f'both set, got {self.input_width}x{self.input_height}')
        if self.depth_color_min >= self.depth_color_max:
            raise ValueError(f'depth_color_min ({self.depth_color_min}) must be smaller than '
                             f'depth_color_max ({self.depth_color_max})')
        for name in ('odom_frame', 'base_frame'):
            value = getattr(self, name)
            if not value or value.startswith('/') or any(c.isspace() for c in value):
                raise ValueError(f"parameter '{name}': '{value}' is not a valid frame id "
                                 f'(non-empty, no leading slash, no spaces)')
        if self.adapt and self.backend not in ('torch', 'auto'):
            raise ValueError(f"parameter 'adapt': online adaptation runs on backend torch only, "
                             f"not '{self.backend}' (its ONNX files are not re-exported)")
        if self.adapt and self.adapt_replay > 0 and self.adapt_batch < 2:
            raise ValueError('parameter adapt_replay: synthetic replay needs adapt_batch of at '
                             'least 2 (one synthetic and one camera triplet per step); set '
                             'adapt_replay to 0 or adapt_batch to 2 or more')
        if self.odom_frame == self.base_frame:
            raise ValueError(f"odom_frame and base_frame are both '{self.odom_frame}'")
        if self.base_to_camera:
            if len(self.base_to_camera) != 7:
                raise ValueError('parameter base_to_camera: expected [x, y, z, qx, qy, qz, qw] '
                                 f'(7 values) or empty, got {len(self.base_to_camera)} values')
            if math.sqrt(sum(q * q for q in self.base_to_camera[3:])) < 1e-6:
                raise ValueError('parameter base_to_camera: the quaternion is zero')
        if self.fallback_intrinsics:
            if len(self.fallback_intrinsics) != 4:
                raise ValueError('parameter fallback_intrinsics: expected [fx, fy, cx, cy] or '
                                 f'empty, got {len(self.fallback_intrinsics)} values')
            if min(self.fallback_intrinsics[:2]) <= 0:
                raise ValueError('parameter fallback_intrinsics: fx and fy must be positive')


def _check(spec: ParamSpec, value: Any) -> Any:
    """`value` converted to the spec's type and checked against its choices / bounds."""
    where = f"parameter '{spec.name}'"
    if spec.array:
        try:
            values = tuple(float(v) for v in (value if value is not None else ()))
        except (TypeError, ValueError):
            raise ValueError(f'{where}: expected a list of numbers, got {value!r}') from None
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f'{where}: values must be finite, got {list(values)}')
        return values
    kind = type(spec.default)
    if kind is bool:
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f'{where}: expected true or false, got {value!r}')
        return bool(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f'{where}: expected an integer, got {value!r}')
        value = int(value)
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ValueError(f'{where}: expected a number, got {value!r}')
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f'{where}: expected a finite number, got {value}')
    else:
        if not isinstance(value, str):
            raise ValueError(f'{where}: expected a string, got {value!r}')
        value = value.strip()
    if spec.choices and not _allowed(value, spec.choices):
        raise ValueError(f"{where}: '{value}' is not one of {', '.join(spec.choices)}")
    if spec.bounds is not None:
        low, high = spec.bounds[0], spec.bounds[1]
        if not low <= value <= high:
            raise ValueError(f'{where}: {value} is outside [{low}, {high}]')
        if len(spec.bounds) == 3 and (value - low) % spec.bounds[2]:
            raise ValueError(f'{where}: {value} is not a multiple of {spec.bounds[2]}')
    return value


def _allowed(value: str, choices: tuple[str, ...]) -> bool:
    if value in choices:
        return True
    return 'cuda:N' in choices and value.startswith('cuda:') and value[5:].isdigit()
