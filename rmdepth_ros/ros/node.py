"""rmdepth_node: monocular depth, ego-motion, optical flow and moving-object masks on ROS 2.

The contract (topics, types, frames, reset rules) is the project's ros_interface.md; the
parameters are in `node_config.PARAMETERS` and config/rmdepth.yaml.

Threads: the executor runs the callbacks (image -> latest-frame slot, camera_info, ~/reset,
parameter changes, diagnostics). One inference thread takes the newest frame from the slot and
runs message -> array -> estimator -> arrays -> messages -> publish, so under load old frames
are dropped (and counted) instead of queueing up latency. The stamps of every frame that
arrived but was not processed go to the estimator with the next frame, so the node's own drops
never reset the temporal state; only a gap in the stream itself (> max_frame_gap) does.

A frame's messages are all built before the first is published: a frame goes out whole or not
at all.

Every output carries the input image's header verbatim. The first frame, and the first after a
reset, has depth, colour and points but no flow or mask; odometry IS published on such frames,
with the pose unchanged, zero twist and a large twist covariance, so odometry and TF exist from
the first frame on and never jump.

Run: `ros2 run rmdepth_ros rmdepth_node --ros-args --params-file config/rmdepth.yaml`.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from typing import Any

import numpy as np
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from rmdepth_ros.inference import Estimator, EstimatorOutput
from rmdepth_ros.ros.conversions import (
    ConversionError,
    camera_info_to_intrinsics,
    compressed_to_rgb8,
    image_to_rgb8,
    make_odometry,
    make_transform_stamped,
    scale_intrinsics_np,
)
from rmdepth_ros.ros.diagnostics import NodeStats, make_diagnostic_array
from rmdepth_ros.ros.frame_messages import frame_messages
from rmdepth_ros.ros.frame_slot import MAX_SKIPPED, LatestFrameSlot
from rmdepth_ros.ros.log_limiter import LogLimiter
from rmdepth_ros.ros.node_config import NODE_NAME, NodeConfig
from rmdepth_ros.ros.output_plan import TOPICS, OutputPlan, enabled_outputs, plan_outputs
from rmdepth_ros.ros.parameter_declaration import declare_parameters
from rmdepth_ros.ros.startup import main  # noqa: F401 - the entry point (setup.py)
from rmdepth_ros.ros.trajectory import Trajectory
from rmdepth_ros.scale import ScaleState, ScaleTracker
from rmdepth_ros.visual_odometry import OdometryIntegrator

#: Outputs are reliable (a best-effort subscriber, e.g. rviz, matches too) and keep only the
#: newest messages: a slow subscriber misses frames instead of holding memory.
OUTPUT_QOS = QoSProfile(depth=2, history=HistoryPolicy.KEEP_LAST,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)

#: ~/reset keeps every request until it is answered (the default queue of 10 lost a burst).
SERVICE_QOS = QoSProfile(history=HistoryPolicy.KEEP_ALL, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)

_DIAG_OK, _DIAG_WARN, _DIAG_ERROR = 0, 1, 2

#: odom/path is for viewing: it is published at most this often (seconds of stamp time), since
#: a path of 1000 poses costs ~8 ms to publish.
PATH_PERIOD = 0.5


class RMDepthNode(Node):
    """The rmdepth_node. Raises WeightsError / ValueError at construction on bad parameters.

    kwargs go to rclpy's Node (e.g. `parameter_overrides`, `namespace`, `context`).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._stop = threading.Event()
        self._slot = LatestFrameSlot()
        self._worker: threading.Thread | None = None
        self.config: NodeConfig = declare_parameters(self)
        config = self.config
        self._log = LogLimiter(self.get_logger())
        self.estimator = Estimator(config.weights or None, device=config.device,
                                   precision=config.precision, input_size=config.input_size,
                                   max_frame_gap=config.max_frame_gap, resize=config.resize,
                                   backend=config.backend, log=self.get_logger().info)
        T_base_cam = config.base_to_camera_matrix
        self.scale = ScaleTracker(config.scale_mode, config.camera_height, config.scale_factor,
                                  T_base_cam)
        self.odometry = OdometryIntegrator(T_base_cam)
        self.trajectory = Trajectory(config.odom_frame, config.path_length)
        self.stats = NodeStats()
        self._camera: tuple[np.ndarray, tuple[int, int]] | str | None = None
        self._reset_lock = threading.Lock()
        self._reset_request: str | None = None
        self._camera_frames: set[str] = set()
        self._path_stamp: float | None = None
        # stamps (s) of the frames that arrived after the estimator's last frame, unprocessed
        self._unprocessed: list[float] = []

        self._publishers_by_output = {
            name: self.create_publisher(output_message_type(name), TOPICS[name], OUTPUT_QOS)
            for name in enabled_outputs(config)}
        self._diagnostics = self.create_publisher(output_message_type('diagnostics'),
                                                  '/diagnostics', 10)
        self._tf, self._static_tf = self._create_tf_broadcasters()
        self._subscribe_inputs()
        from std_srvs.srv import Trigger

        self.create_service(Trigger, '~/reset', self._on_reset, qos_profile=SERVICE_QOS)
        self.create_timer(config.diagnostics_period, self._publish_diagnostics)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._last_counts = (0, 0)

        self._worker = threading.Thread(target=self._run, name='rmdepth_inference', daemon=True)
        self._worker.start()
        self._announce()

    # -- executor-thread callbacks ---------------------------------------------------------

    def _on_image(self, msg: Any) -> None:
        self.stats.input_frame()
        if not msg.header.frame_id:
            self._log.warning('empty_frame_id', 'input images have an empty frame_id; outputs '
                              'copy it', once=True)
        if self._slot.put(msg, _seconds(msg.header.stamp)):
            self.stats.busy_drop(self._slot.dropped)

    def _on_camera_info(self, msg: Any) -> None:
        previous = self._camera
        try:
            self._camera = camera_info_to_intrinsics(msg)
        except ConversionError as error:
            self._camera = str(error)
            self._log.warning(f'camera_info:{_kind(error)}', f'camera_info rejected: {error}')
            return
        if not isinstance(previous, tuple):
            K, (width, height) = self._camera
            what = 'received' if previous is None else f'valid again (was: {previous})'
            self._log.info(f'camera_info:ok:{previous}',
                           f'camera_info {what}: {width}x{height}, fx={K[0, 0]:.2f} '
                           f'fy={K[1, 1]:.2f} cx={K[0, 2]:.2f} cy={K[1, 2]:.2f}')

    def _on_reset(self, request: Any, response: Any) -> Any:
        with self._reset_lock:
            self._reset_request = 'requested via ~/reset'
        response.success = True
        response.message = ('temporal state resets before the next frame; odometry continues '
                            'from the last pose')
        return response

    def _on_set_parameters(self, parameters: list[Any]) -> Any:
        from rcl_interfaces.msg import SetParametersResult

        changes = {p.name: p.value for p in parameters if hasattr(self.config, p.name)}
        try:
            config = self.config.updated(changes)
        except ValueError as error:
            return SetParametersResult(successful=False, reason=str(error))
        self.config = config
        self.estimator.max_frame_gap = config.max_frame_gap
        self.scale.configure(config.camera_height, config.scale_factor)
        return SetParametersResult(successful=True)

    # -- the inference thread ----------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            taken = self._slot.take_with_skipped(timeout=0.2)
            if taken is None:
                continue
            msg, skipped = taken
            self._unprocessed.extend(skipped)
            try:
                self._process(msg)
            except Exception as error:  # one bad frame must never stop the node
                if self._stop.is_set() or not self.context.ok():
                    return
                self.stats.invalid_frame()
                self._log.error(f'unexpected:{type(error).__name__}',
                                f'frame dropped: unexpected {type(error).__name__}: {error}')

    def _process(self, msg: Any) -> None:
        """message -> array -> estimator -> arrays -> messages -> publish (all or nothing)."""
        start = time.perf_counter()
        config, header = self.config, msg.header
        image = self._to_array(msg)
        K = self._intrinsics_for(image) if image is not None else None
        out = None
        if K is not None:
            plan = plan_outputs(config, self._subscriber_counts(), self._tf is not None)
            decoded_at = time.perf_counter()
            out = self._estimate(image, K, header, plan)
        if out is None:
            self.stats.invalid_frame()
            self._unprocessed.append(_seconds(header.stamp))
            del self._unprocessed[:-MAX_SKIPPED]
            return
        estimated_at = time.perf_counter()
        scale = self.scale.update(out.depth, out.intrinsics)
        depth = scale.apply(out.depth)
        outgoing = (frame_messages(header, image, depth, out, plan, config)
                    + self._odometry_messages(header, out, scale, plan, config))
        latency = self._latency(header)
        for output, message in outgoing:
            self._publish(output, message)
        done = time.perf_counter()
        self.stats.output_frame(latency, {
            'decode': 1e3 * (decoded_at - start),
            'estimator': 1e3 * (estimated_at - decoded_at),
            'publish': 1e3 * (done - estimated_at),
            'ros_layer': 1e3 * ((decoded_at - start) + (done - estimated_at)),
        })

    def _to_array(self, msg: Any) -> np.ndarray | None:
        """Image / CompressedImage -> uint8 RGB (H, W, 3) or gray (H, W); None if unusable."""
        try:
            if self.config.image_transport == 'compressed':
                return compressed_to_rgb8(msg)
            return image_to_rgb8(msg)
        except ConversionError as error:
            if str(error).startswith('unsupported encoding'):
                self._log.error(f'encoding:{msg.encoding}', f'frame dropped: {error}',
                                once=True)
            else:
                self._log.warning(f'image:{_kind(error)}', f'frame dropped: {error}')
            return None

    def _intrinsics_for(self, image: np.ndarray) -> np.ndarray | None:
        """K (3, 3) for `image`: camera_info (scaled to the image), fallback, or None (drop)."""
        camera = self._camera
        height, width = image.shape[:2]
        if isinstance(camera, tuple):
            K, size = camera
            if size != (width, height):
                self._log.warning(f'info_size:{size}:{width}x{height}',
                                  f'camera_info is for {size[0]}x{size[1]} but the image is '
                                  f'{width}x{height}: scaling the intrinsics to the image',
                                  once=True)
                K = scale_intrinsics_np(K, size, (width, height))
            return K
        reason = camera or 'no camera_info received yet'
        fallback = self.config.fallback_matrix
        if fallback is not None:
            self._log.warning(f'fallback:{_kind(reason)}', f'{reason}: using fallback_intrinsics '
                              f'{list(self.config.fallback_intrinsics)}')
            return fallback
        self._log.warning(f'no_intrinsics:{_kind(reason)}',
                          f'frame dropped: {reason}, and fallback_intrinsics is empty')
        return None

    def _estimate(self, image: np.ndarray, K: np.ndarray, header: Any,
                  plan: OutputPlan) -> EstimatorOutput | None:
        with self._reset_lock:
            request, self._reset_request = self._reset_request, None
        if request is not None:
            self.estimator.reset(request)
        try:
            out = self.estimator.process(image, K, _seconds(header.stamp),
                                         compute_motion=plan.motion, skipped=self._unprocessed)
        except ValueError as error:
            self._log.warning(f'estimator:{_kind(error)}', f'frame dropped: {error}')
            return None
        self._unprocessed = []
        self._note_reset(out.reset_reason, header, image)
        return out

    def _note_reset(self, reason: str | None, header: Any, image: np.ndarray) -> None:
        if reason is None:
            return
        if reason == 'first frame':
            self._log.info('first_frame', f"first frame: {image.shape[1]}x{image.shape[0]}, "
                           f"frame_id '{header.frame_id}'", once=True)
        else:
            self.stats.reset()
            level = 'info' if 'requested' in reason else 'warning'
            self._log.log(level, f'reset:{_kind(reason)}', f'temporal state reset: {reason} '
                          '(this frame: depth only; odometry continues from the last pose)')

    # -- odometry and TF messages (built, not yet published; images: frame_messages) ---------

    def _odometry_messages(self, header: Any, out: EstimatorOutput, scale: ScaleState,
                           plan: OutputPlan, config: NodeConfig) -> list[tuple[str, Any]]:
        if not (plan.odometry or plan.tf):
            return []
        outgoing = []
        odom = self.odometry.update(out.motion, _seconds(header.stamp), scale.scale,
                                    scale.relative_sigma, reset=out.reset_reason is not None)
        if plan.odometry:
            outgoing.append(('odometry', make_odometry(
                header.stamp, config.odom_frame, config.base_frame, odom.T_odom_base,
                odom.linear, odom.angular, odom.pose_variance, odom.twist_variance)))
        if 'path' in self._publishers_by_output:
            self.trajectory.append(header.stamp, odom.T_odom_base)
            stamp, last = _seconds(header.stamp), self._path_stamp
            if plan.path and (last is None or not 0.0 <= stamp - last < PATH_PERIOD):
                self._path_stamp = stamp
                outgoing.append(('path', self.trajectory.to_path(header.stamp)))
        if plan.tf:
            outgoing.append(('tf', make_transform_stamped(
                header.stamp, config.odom_frame, config.base_frame, odom.T_odom_base)))
            outgoing += self._camera_frame_messages(header)
        return outgoing

    def _camera_frame_messages(self, header: Any) -> list[tuple[str, Any]]:
        """With no extrinsic the camera optical frame is the base frame: say so on TF once."""
        frame = header.frame_id
        if (self._static_tf is None or not frame or frame == self.config.base_frame
                or frame in self._camera_frames):
            return []
        self._camera_frames.add(frame)
        self.get_logger().info(f'static TF {self.config.base_frame} -> {frame}: identity '
                               '(base_to_camera is empty)')
        return [('tf_static', make_transform_stamped(
            header.stamp, self.config.base_frame, frame, np.eye(4)))]

    def _publish(self, output: str, msg: Any) -> None:
        if output == 'tf':
            self._tf.sendTransform(msg)
        elif output == 'tf_static':
            self._static_tf.sendTransform(msg)
        else:
            self._publishers_by_output[output].publish(msg)

    # -- bookkeeping ---------------------------------------------------------------------------

    def _subscriber_counts(self) -> dict[str, int]:
        return {name: publisher.get_subscription_count()
                for name, publisher in self._publishers_by_output.items()}

    def _latency(self, header: Any) -> float:
        """Seconds from the input stamp to now (node clock); any stamp, negative ones too."""
        stamp_ns = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
        return (self.get_clock().now().nanoseconds - stamp_ns) * 1e-9

    def model_values(self) -> dict[str, str]:
        """What runs the networks, for /diagnostics: backend (with version and settings),
        device, precision, model id, network input size and, for the ONNX backends, the
        folder of the cached ONNX files."""
        estimator = self.estimator
        values = {
            'backend': estimator.backend_description,
            'device': str(estimator.device),
            'precision': estimator.precision,
            'model_id': estimator.model_id,
            'input_size': '{}x{}'.format(*estimator.input_size),
        }
        if estimator.onnx_files:
            values['onnx_cache'] = str(estimator.onnx_files['depth'].parent)
        return values

    def _publish_diagnostics(self) -> None:
        values = self.stats.snapshot()
        scale = self.scale.state
        processed = values['frames_processed'] - self._last_counts[0]
        invalid = values['dropped_invalid'] - self._last_counts[1]
        self._last_counts = (values['frames_processed'], values['dropped_invalid'])
        if invalid and not processed:
            level, message = _DIAG_ERROR, 'every recent frame was dropped (see the log)'
        elif values['input_rate_hz'] == 0.0 and not processed:
            level, message = _DIAG_WARN, 'no images received'
        elif not scale.established:
            level, message = _DIAG_WARN, 'running; scale not established'
        else:
            level, message = _DIAG_OK, 'running'
        camera = self._camera
        values.update(self.model_values())
        values.update({
            'scale_mode': scale.mode,
            'scale': scale.scale,
            'scale_status': scale.status,
            'scale_units': scale.units,
            'camera_info': 'ok' if isinstance(camera, tuple) else camera or 'not received',
            'tf': 'on' if self._tf is not None else 'off',
        })
        self._diagnostics.publish(make_diagnostic_array(
            self.get_clock().now().to_msg(), f'{self.get_fully_qualified_name()}: depth',
            str(self.estimator.device), level, message, values))

    def _subscribe_inputs(self) -> None:
        config = self.config
        reliability = (ReliabilityPolicy.RELIABLE if config.qos_reliability == 'reliable'
                       else ReliabilityPolicy.BEST_EFFORT)
        qos = QoSProfile(depth=config.qos_depth, history=HistoryPolicy.KEEP_LAST,
                         reliability=reliability, durability=DurabilityPolicy.VOLATILE)
        from sensor_msgs.msg import CameraInfo, CompressedImage, Image

        image_type = CompressedImage if config.image_transport == 'compressed' else Image
        self.create_subscription(image_type, self.image_topic(), self._on_image, qos)
        self.create_subscription(CameraInfo, 'camera_info', self._on_camera_info, qos)

    def image_topic(self) -> str:
        """The resolved input topic: `image`, or for the compressed transport
        `<resolved image>/compressed`, derived as image_transport does, so `-r image:=X` moves
        both; an explicit remap of `image/compressed` still wins."""
        image = self.resolve_topic_name('image')
        if self.config.image_transport != 'compressed':
            return image
        remapped = self.resolve_topic_name('image/compressed')
        if remapped != self.resolve_topic_name('image/compressed', only_expand=True):
            return remapped
        return image.rstrip('/') + '/compressed'

    def _create_tf_broadcasters(self) -> tuple[Any, Any]:
        if not self.config.publish_tf:
            return None, None
        try:
            from tf2_ros import StaticTransformBroadcaster, TransformBroadcaster
        except ImportError:
            self.get_logger().warning(
                f'tf2_ros is not importable: TF is off ({self.config.odom_frame} -> '
                f"{self.config.base_frame} not broadcast); odometry is still published on "
                f"'{self.resolve_topic_name(TOPICS['odometry'])}'")
            return None, None
        static = StaticTransformBroadcaster(self) if not self.config.base_to_camera else None
        return TransformBroadcaster(self), static

    def _announce(self) -> None:
        config, estimator = self.config, self.estimator
        outputs = ', '.join(TOPICS[name] for name in self._publishers_by_output)
        self.get_logger().info(
            f'model {estimator.model_id} on {estimator.device} ({estimator.precision}, backend '
            f'{estimator.backend_description}), input '
            f"{estimator.input_size[0]}x{estimator.input_size[1]}; listening on "
            f"'{self.image_topic()}' ({config.qos_reliability}); "
            f'publishing {outputs}; scale: {self.scale.state.status}')
        if str(estimator.metadata.get('trained_on', '')).startswith('untrained'):
            self.get_logger().warning('the weights are untrained (random initialisation): '
                                      'depth and motion are not meaningful')
        if not config.base_to_camera:
            self.get_logger().info(f'base_to_camera is empty: the camera optical frame is the '
                                   f"base frame '{config.base_frame}'")

    def destroy_node(self) -> None:
        """Stop the inference thread, then the node."""
        self._stop.set()
        self._slot.close()
        worker = self._worker
        if worker is not None and worker.is_alive() and worker is not threading.current_thread():
            worker.join(timeout=5.0)
        super().destroy_node()


def output_message_type(output: str) -> Any:
    """The message class of an output name of `output_plan.TOPICS` (or 'diagnostics')."""
    from diagnostic_msgs.msg import DiagnosticArray
    from nav_msgs.msg import Odometry, Path
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2

    return {'depth_info': CameraInfo, 'points': PointCloud2, 'odometry': Odometry, 'path': Path,
            'diagnostics': DiagnosticArray}.get(output, Image)


def _seconds(stamp: Any) -> float:
    """builtin_interfaces/Time -> float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def _kind(error: Any) -> str:
    """A message with its numbers blanked: the throttling key of a kind of problem."""
    return re.sub(r'-?\d+(\.\d+)?', '#', str(error))


if __name__ == '__main__':
    sys.exit(main())
