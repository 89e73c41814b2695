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
import threading
import time
from typing import Any

import numpy as np
from rclpy.node import Node

from rmdepth_ros.inference import Estimator, EstimatorOutput
from rmdepth_ros.ros.adaptation import NodeAdaptation, adaptation_values
from rmdepth_ros.ros.conversions import (
    ConversionError,
    camera_info_to_intrinsics,
    compressed_to_rgb8,
    image_to_rgb8,
    scale_intrinsics_np,
)
from rmdepth_ros.ros.diagnostics import NodeStats, make_diagnostic_array, model_values, node_status
from rmdepth_ros.ros.endpoints import (
    OUTPUT_QOS,
    SERVICE_QOS,
    input_image_type,
    input_qos,
    output_message_type,
)
from rmdepth_ros.ros.frame_messages import frame_messages
from rmdepth_ros.ros.frame_slot import MAX_SKIPPED, LatestFrameSlot
from rmdepth_ros.ros.log_limiter import LogLimiter
from rmdepth_ros.ros.message_fields import stamp_seconds as _seconds
from rmdepth_ros.ros.node_config import NODE_NAME, NodeConfig
from rmdepth_ros.ros.odometry_messages import OdometryMessages
from rmdepth_ros.ros.output_plan import TOPICS, OutputPlan, enabled_outputs, plan_outputs
from rmdepth_ros.ros.parameter_declaration import declare_parameters
from rmdepth_ros.scale import ScaleTracker


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
                                   # adaptation trains the torch networks in place
                                   backend='torch' if config.adapt else config.backend,
                                   log=self.get_logger().info, motion_source=config.motion_source,
                                   depth_source=config.depth_source)
        self.adaptation = (NodeAdaptation(self.estimator, config, self.get_logger().warning)
                           if config.adapt else None)
        self.scale = ScaleTracker(config.scale_mode, config.camera_height, config.scale_factor,
                                  config.base_to_camera_matrix)
        self.stats = NodeStats()
        self._camera: tuple[np.ndarray, tuple[int, int]] | str | None = None
        self._reset_lock = threading.Lock()
        self._reset_request: str | None = None
        # stamps (s) of the frames that arrived after the estimator's last frame, unprocessed
        self._unprocessed: list[float] = []

        self._publishers_by_output = {
            name: self.create_publisher(output_message_type(name), TOPICS[name], OUTPUT_QOS)
            for name in enabled_outputs(config)}
        self._diagnostics = self.create_publisher(output_message_type('diagnostics'),
                                                  '/diagnostics', 10)
        self._tf, self._static_tf = self._create_tf_broadcasters()
        self._odometry = OdometryMessages(config, 'path' in self._publishers_by_output,
                                          self._static_tf is not None, self.get_logger().info)
        self._subscribe_inputs()
        from std_srvs.srv import Trigger

        self.create_service(Trigger, '~/reset', self._on_reset, qos_profile=SERVICE_QOS)
        self.create_service(Trigger, '~/save_weights', self._on_save_weights,
                            qos_profile=SERVICE_QOS)
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

    def _on_save_weights(self, request: Any, response: Any) -> Any:
        if self.adaptation is None:
            response.success, response.message = False, 'adapt is off: nothing adapted to save'
        else:
            response.success, response.message = self.adaptation.save()
        self.get_logger().info(f'~/save_weights: {response.message}')
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
                    + self._odometry.build(header, out, scale, plan, config))
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
        """What runs the networks, for /diagnostics (`diagnostics.model_values`)."""
        return model_values(self.estimator)

    def _publish_diagnostics(self) -> None:
        values = self.stats.snapshot()
        scale = self.scale.state
        processed = values['frames_processed'] - self._last_counts[0]
        invalid = values['dropped_invalid'] - self._last_counts[1]
        self._last_counts = (values['frames_processed'], values['dropped_invalid'])
        level, message = node_status(values, processed, invalid, scale.established)
        camera = self._camera
        values.update(self.model_values())
        values.update(adaptation_values(self.adaptation))
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
        qos = input_qos(self.config)
        from sensor_msgs.msg import CameraInfo

        self.create_subscription(input_image_type(self.config), self.image_topic(),
                                 self._on_image, qos)
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
        chosen = f' [{estimator.backend_choice}]' if estimator.backend_choice else ''
        self.get_logger().info(
            f'model {estimator.model_id} on {estimator.device} ({estimator.precision}, backend '
            f'{estimator.backend_description}{chosen}), input '
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
        if getattr(self, 'adaptation', None) is not None:
            self.adaptation.stop()
        worker = self._worker
        if worker is not None and worker.is_alive() and worker is not threading.current_thread():
            worker.join(timeout=5.0)
        super().destroy_node()


def _kind(error: Any) -> str:
    """A message with its numbers blanked: the throttling key of a kind of problem."""
    return re.sub(r'-?\d+(\.\d+)?', '#', str(error))

