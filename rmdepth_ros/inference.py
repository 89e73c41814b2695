"""The inference engine: numpy frames in, depth / camera motion / flow / motion masks out.

No ROS here. Feed frames one at a time with `Estimator.process`; it resizes to the network's
input size and back, keeps the previous frame, and resets its temporal state on a time gap, time
going backwards, an image-size or intrinsics change, or `reset()`. Conventions (units, frames,
flow sign) are those of docs/conventions.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
import math
import os
from pathlib import Path
import sys
import time
from typing import Any

import numpy as np
import torch

from rmdepth_ros.backends import (
    BACKEND_CHOICES,
    BackendError,
    choose_backend,
    create_runner,
    resolve_auto_device,
)
from rmdepth_ros.continuity import PreviousFrame, continuity_break
from rmdepth_ros.device import (
    PRECISIONS,
    cuda_runner_variant,
    resolve_precision,
    select_device,
)
from rmdepth_ros.frame_input import to_network_tensor, validate_frame, validate_skipped
from rmdepth_ros.geometry.depth_from_motion import (
    DEFAULT_DEPTH_SOURCE,
    DEPTH_SOURCES,
    DepthFromMotion,
    GeometryOutput,
)
from rmdepth_ros.model import geometry
from rmdepth_ros.model.depth_net import disp_to_depth
from rmdepth_ros.model.rmdepth import RMDepth
from rmdepth_ros.model.weights import load_weights
from rmdepth_ros.motion.hybrid import (
    DEFAULT_MOTION_SOURCE,
    MOTION_SOURCES,
    HybridMotion,
    HybridResult,
)
from rmdepth_ros.motion.two_view import to_gray
from rmdepth_ros.resize import DEFAULT_RESIZE, RESIZE_MODES, Window, input_window

__all__ = ['Estimator', 'EstimatorOutput', 'PRECISIONS', 'select_device']


@dataclass
class EstimatorOutput:
    """What the estimator returns for one frame.

    depth: (H, W) float32 along the optical axis in model units (the weights' training scale,
      not necessarily metres; README "Scale"), NaN where invalid.
    intrinsics: (3, 3) float64 intrinsics of the output resolution.
    motion: (4, 4) float64 `T_prev_cur` (the current camera pose in the previous camera's frame;
      see docs/conventions.md), None on the first frame after a reset.
    flow: (H, W, 2) float32 pixels on this frame's grid, the point at x now was at x - flow in
      the previous frame; NaN where it came into view. None on the first frame.
    motion_mask: (H, W) bool, True on independently moving objects (absolute criterion with
      temporal consistency, docs/conventions.md). None on the first frame.
    object_motion: (H, W, 3) float32 model units, current camera frame, each point's displacement
      since the previous frame with the network's camera motion (`network_motion`) removed.
      None on the first frame.
    reset_reason: why the temporal state was reset before this frame, else None.
    network_motion: (4, 4) the motion network's own `T_prev_cur` (equal to `motion` with
      motion_source 'network'), None on the first frame.
    motion_info: with motion_source 'hybrid', how `motion` was obtained (source, fallback
      reason, tracks, inliers, 1-sigma errors; rmdepth_ros.motion.hybrid), else None.
    confidence: (H, W) float32 relative 1-sigma of `depth` (sigma_z / z): small where the
      camera's motion measured the depth, the network's measured error elsewhere; None with
      depth_source 'network'.
    network_depth: (H, W) the depth network's own depth (equal to `depth` with depth_source
      'network').
    geometry: with depth_source 'fused', what the geometry stage did (share of pixels
      observed, the network's measured error, why nothing was measured), else None.
    timings: milliseconds spent in 'preprocess', 'depth', 'motion', 'postprocess', 'geometry'
      (depth_source 'fused'), 'total'.
    """

    timestamp: float
    frame_index: int
    depth: np.ndarray
    intrinsics: np.ndarray
    motion: np.ndarray | None = None
    flow: np.ndarray | None = None
    motion_mask: np.ndarray | None = None
    object_motion: np.ndarray | None = None
    reset_reason: str | None = None
    network_motion: np.ndarray | None = None
    motion_info: HybridResult | None = None
    confidence: np.ndarray | None = None
    network_depth: np.ndarray | None = None
    geometry: GeometryOutput | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class GeometryLabel:
    """A frame's fused depth as a label for the network input it came from (what online
    adaptation learns depth from): depth (h, w) float32 model units (NaN = none), sigma (h, w)
    float32 its relative 1-sigma, moving (h, w) bool, all on the network input's grid."""

    depth: np.ndarray
    sigma: np.ndarray
    moving: np.ndarray

    @staticmethod
    def of(out: EstimatorOutput, window: Window) -> GeometryLabel | None:
        """The label of `out` on `window`'s network grid; None without a geometry stage."""
        if out.confidence is None:
            return None
        moving = (np.zeros(out.depth.shape, bool) if out.motion_mask is None
                  else out.motion_mask)
        return GeometryLabel(window.sample_to_network(out.depth, np.nan),
                             window.sample_to_network(out.confidence, np.nan),
                             window.sample_to_network(moving, True))


class Estimator:
    """Per-frame depth, ego-motion, optical flow and moving-object masks.

    weights: path of a weights file (None = the shipped default).
    device: 'auto' | 'cpu' | 'cuda' | 'cuda:N'. precision: 'auto' (fp32 on the CPU; on CUDA
      the measured default of rmdepth_ros/cuda_defaults.json, see rmdepth_ros.device), 'fp32',
      or 'fp16' / 'bf16' on CUDA; `self.precision` is the resolved one.
    input_size: (width, height) of the network input; default: the weights' training size.
      Both must be multiples of 8.
    max_frame_gap: seconds; a larger gap between consecutive frames of the stream resets the
      temporal state (frames the caller skipped count: see `process`).
    output: 'input' (outputs at the input image's resolution) or 'network' (at the network
      size: input_size; for 'native', depth and intrinsics at the size it picks, flow, mask
      and object motion on the motion network's grid, the centred window at input_size).
    resize: how an image whose aspect ratio differs from input_size's reaches the network:
      'crop' (centre crop; outputs NaN outside it), 'pad' (edge-replicated padding),
      'stretch', or 'native' (depth at the image's own aspect ratio with about input_size's
      pixel count, sides multiples of 8; the motion network on the centred crop window);
      see rmdepth_ros.resize.
    backend: where the two networks run: 'torch' (eager; on CUDA the runner variant named in
      rmdepth_ros/cuda_defaults.json, eager until a GPU was measured), 'onnxruntime' or
      'openvino' (ONNX exports of the same weights, built on first use and cached; fp32 only;
      see rmdepth_ros.backends), or 'auto': the fastest installed for the device
      (`backends.choose_backend`; torch if the chosen one cannot start). Everything else is
      the same for every backend.
    log: receives one line when ONNX files are exported (default: stderr).
    motion_source: 'network' (the motion network's camera motion) or 'hybrid' (tracked image
      points + essential matrix, scale from the network's depth, the network's motion as prior
      and fallback; rmdepth_ros.motion.hybrid). `motion` is then the fused camera motion;
      flow, masks and object motion stay the network's own (relative to `network_motion`).
    depth_source: 'fused' (the network's depth refined by what the camera's motion measures:
      per-pixel triangulation from dense flow, a temporal filter, a scale field; flow and
      masks then come from that geometry too; rmdepth_ros.geometry) or 'network' (the
      networks' outputs as they are). With output 'network' the geometry stage does not run.
    """

    def __init__(self, weights: str | os.PathLike | None = None, device: str = 'auto',
                 precision: str = 'auto', input_size: tuple[int, int] | None = None,
                 max_frame_gap: float = 0.5, output: str = 'input',
                 model: RMDepth | None = None, metadata: dict[str, Any] | None = None,
                 resize: str = DEFAULT_RESIZE, backend: str = 'torch',
                 log: Callable[[str], None] | None = None,
                 motion_source: str = DEFAULT_MOTION_SOURCE,
                 depth_source: str = DEFAULT_DEPTH_SOURCE) -> None:
        if depth_source not in DEPTH_SOURCES:
            raise ValueError(f"depth_source must be one of {', '.join(DEPTH_SOURCES)}, "
                             f"got '{depth_source}'")
        if motion_source not in MOTION_SOURCES:
            raise ValueError(f"motion_source must be one of {', '.join(MOTION_SOURCES)}, "
                             f"got '{motion_source}'")
        self.motion_source = motion_source
        self._hybrid = HybridMotion() if motion_source == 'hybrid' else None
        if backend not in BACKEND_CHOICES:
            raise ValueError(f"backend must be one of {', '.join(BACKEND_CHOICES)}, "
                             f"got '{backend}'")
        #: backend 'auto': the backend it chose and why (for the log and /diagnostics)
        self.backend_choice: str | None = None
        if backend == 'auto':
            backend, self.backend_choice = choose_backend(device, precision)
        self.device = select_device(resolve_auto_device(backend, device))
        precision = resolve_precision(precision, self.device, backend)
        if precision != 'fp32' and self.device.type != 'cuda':
            raise ValueError(f"precision '{precision}' needs a CUDA device; use fp32 on CPU")
        if precision != 'fp32' and backend != 'torch':
            raise ValueError(f"precision '{precision}' needs backend 'torch'; backend "
                             f"'{backend}' runs fp32")
        if output not in ('input', 'network'):
            raise ValueError(f"output must be 'input' or 'network', got '{output}'")
        if resize not in RESIZE_MODES:
            raise ValueError(f"resize must be one of {', '.join(RESIZE_MODES)}, got '{resize}'")
        self.resize = resize
        if not (max_frame_gap > 0 and math.isfinite(max_frame_gap)):
            raise ValueError(f'max_frame_gap must be a positive number of seconds, '
                             f'got {max_frame_gap}')
        if model is None:
            model, metadata = load_weights(weights, device='cpu')
        self.metadata = metadata or {}
        self.model = model.to(self.device).eval()
        self.precision = precision
        self.autocast_dtype = PRECISIONS[precision]
        width, height = input_size or self.metadata.get('input_size', (640, 192))
        if width % 8 or height % 8 or width <= 0 or height <= 0:
            raise ValueError(f'input_size must be positive multiples of 8, got {width}x{height}')
        self.input_size = (int(width), int(height))
        self.max_frame_gap = float(max_frame_gap)
        self.output = output
        # the geometry works on the input image's grid, after the outputs went back to it
        self.depth_source = depth_source if output == 'input' else 'network'
        self._geometry = DepthFromMotion() if self.depth_source == 'fused' else None
        self._fallback_run = 0    # consecutive frames whose hybrid motion fell back
        #: depth_source 'fused': share of the working grid measured on the last frame
        self.last_observed: float | None = None
        log = log or _stderr_line
        try:
            self._runner = self._create_runner(backend, log)
        except BackendError as error:
            if self.backend_choice is None:
                raise
            log(f'backend auto: {backend} cannot run here ({error}); using torch')
            self.backend_choice = f'auto: torch ({backend} failed: {error})'
            backend = 'torch'
            self._runner = self._create_runner(backend, log)
        self.backend = backend
        self._log = log
        # Runners by network size ('native' runs at the image's aspect; ONNX files are fixed-size).
        self._runners = {self.input_size: self._runner}
        self._previous: PreviousFrame | None = None
        self._pending_reset: str | None = 'first frame'
        self._frame_index = 0
        # (frame index, moving-object evidence) of the last frame with motion.
        self._mask_evidence: tuple[int, torch.Tensor] | None = None
        #: Called after every frame with (network input (1, 3, h, w) RGB in [0, 1], its
        #: intrinsics (3, 3), whether the temporal state was reset before it, and with
        #: depth_source 'fused' the frame's `GeometryLabel` on that input's grid, else None):
        #: online adaptation (`rmdepth_ros.ros.adaptation`) learns from these. None: nobody
        #: listens.
        self.observer: Callable[[torch.Tensor, np.ndarray, bool, GeometryLabel | None],
                                None] | None = None

    def _create_runner(self, backend: str, log: Callable[[str], None],
                       size: tuple[int, int] | None = None) -> Any:
        return create_runner(
            backend, self.model, self.metadata, size or self.input_size, self.device, log,
            variant=cuda_runner_variant(self.device, backend),
            autocast_dtype=None if self.precision == 'fp32' else self.autocast_dtype)

    def _runner_is_size_free(self) -> bool:
        # Eager PyTorch runs at any size; CUDA graphs and compiled variants are built per size.
        return cuda_runner_variant(self.device, self.backend) == 'eager'

    @property
    def model_id(self) -> str:
        return self.metadata.get('model_id', 'in-memory')

    @property
    def backend_description(self) -> str:
        """The backend with its version and settings, e.g. 'openvino 2026.4.1 (CPU, ...)'."""
        return self._runner.description

    @property
    def onnx_files(self) -> dict[str, Path]:
        """The ONNX files the backend runs ({'depth': path, 'motion': path}); {} for torch."""
        return dict(getattr(self._runner, 'paths', {}))

    def reset(self, reason: str = 'requested') -> None:
        """Forget the previous frame: the next frame has depth but no motion, flow or mask."""
        self._previous = None
        self._pending_reset = reason
        if self._hybrid is not None:
            self._hybrid.reset()
        if self._geometry is not None:
            self._geometry.reset()

    @property
    def motion_counts(self) -> dict[str, int]:
        """Hybrid motion: frames by how their motion was obtained ('geometry', 'standing' or a
        fallback reason); {} with motion_source 'network'."""
        return {} if self._hybrid is None else dict(self._hybrid.counts)

    @property
    def geometry_counts(self) -> dict[str, int]:
        """depth_source 'fused': frames by what the geometry stage did ('measured', or why it
        measured nothing); {} with depth_source 'network'."""
        return {} if self._geometry is None else dict(self._geometry.counts)

    def process(self, image: np.ndarray, intrinsics: np.ndarray, timestamp: float,
                compute_motion: bool = True, skipped: Sequence[float] = ()) -> EstimatorOutput:
        """Estimate depth for `image` and, if a previous frame is kept, motion and flow.

        image: uint8 (H, W, 3) RGB or (H, W) gray, any size.
        intrinsics: (3, 3) pixels, for `image`'s resolution. timestamp: seconds.
        compute_motion: False skips the motion network (depth only); the frame is still kept
          as the previous frame for the next call.
        skipped: stamps (seconds, arrival order) of the frames that arrived after the previous
          processed frame but were not processed (e.g. dropped while inference was busy). The
          time-gap and time-backwards rules then follow the stream, previous -> skipped ->
          this frame: frames the caller skipped never cause a reset, a gap in the stream does.
        """
        start = time.perf_counter()
        image, intrinsics, timestamp = validate_frame(image, intrinsics, timestamp)
        gray = to_gray(image) if self._hybrid is not None or self._geometry is not None else None
        skipped = validate_skipped(skipped)
        size = image.shape[:2]
        reason = continuity_break(self._previous, size, intrinsics, timestamp, skipped,
                                  self.max_frame_gap)
        if reason is not None:
            self.reset(reason)
        reset_reason, self._pending_reset = self._pending_reset, None

        if self._geometry is not None:  # image-only geometry runs beside the networks
            self._geometry.prefetch(gray, intrinsics)
        window = input_window((size[1], size[0]), self.input_size, self.resize)
        tensor = to_network_tensor(window.to_network(image), window.net_size, self.device)
        # 'native': depth on the whole image at its own aspect; the motion network on the
        # centred window of the weights' aspect, as 'crop' (resize.py says why).
        motion_window = window
        if self.resize == 'native':
            motion_window = input_window(window.image_size, self.input_size, 'crop')
        motion_tensor = tensor
        if motion_window != window:
            motion_tensor = to_network_tensor(motion_window.to_network(image),
                                              motion_window.net_size, self.device)
        net_k = motion_window.network_intrinsics(intrinsics)
        runner = self._runner_at(window.net_size)
        timings = {'preprocess': _ms(start)}

        with torch.inference_mode():
            tick = time.perf_counter()
            with self._autocast():
                disp = runner.depth(tensor)                  # (1, 1, h, w) sigmoid
            _, depth = disp_to_depth(disp.float(), self.model.config.min_depth,
                                     self.model.config.max_depth)
            timings['depth'] = _ms(tick)
            out = EstimatorOutput(timestamp=timestamp, frame_index=self._frame_index,
                                  depth=depth, intrinsics=window.network_intrinsics(intrinsics),
                                  reset_reason=reset_reason)
            tick = time.perf_counter()
            # the depth the hybrid scales with, and the grid it lies on
            scale_depth, scale_window, moving = depth, window, None
            if compute_motion and self._previous is not None:
                motion_depth = depth
                if motion_window != window:  # the depth resampled (as disparity) to its grid
                    on_image = window.depth_to_input(self._depth_array(depth))
                    disparity = motion_window.to_network(1.0 / on_image)  # (h, w)
                    motion_depth = 1.0 / torch.from_numpy(disparity)[None, None].to(depth)
                moving = self._estimate_motion(out, self._runner_at(motion_window.net_size),
                                               motion_tensor, self._previous.image,
                                               motion_depth, net_k)
                scale_depth, scale_window = motion_depth, motion_window
                moving = None if moving is None else motion_window.mask_to_input(moving)
            if self._hybrid is not None:  # a frame without motion still becomes the previous
                self._hybrid_motion(out, gray, intrinsics, scale_depth[0, 0].float().cpu().numpy(),
                                    scale_window, moving)
            timings['motion'] = _ms(tick)
        tick = time.perf_counter()
        self._finish(out, window, motion_window, intrinsics)
        timings['postprocess'] = _ms(tick)
        self._watch_fallbacks(out.motion_info)
        out.network_depth = out.depth
        if self._geometry is not None:
            tick = time.perf_counter()
            self._refine(out, gray, intrinsics)
            timings['geometry'] = _ms(tick)
        timings['total'] = _ms(start)
        out.timings = timings
        self._previous = PreviousFrame(motion_tensor, timestamp, size, intrinsics)
        self._frame_index += 1
        if self.observer is not None:  # the motion network's view: input_size, any resize mode
            self.observer(motion_tensor, net_k, reset_reason is not None,
                          GeometryLabel.of(out, motion_window))
        return out

    # -- steps -------------------------------------------------------------------------------

    def _runner_at(self, net_size: tuple[int, int]):
        """The runner for a network input of net_size (width, height): torch runs any size,
        the ONNX backends export one file pair per size (cached on disk)."""
        if net_size not in self._runners:
            self._runners[net_size] = (
                self._runner if self.backend == 'torch' and self._runner_is_size_free()
                else self._create_runner(self.backend, self._log, net_size))
        return self._runners[net_size]

    def _estimate_motion(self, out: EstimatorOutput, runner, current: torch.Tensor,
                         previous: torch.Tensor, depth: torch.Tensor, net_k: np.ndarray
                         ) -> np.ndarray | None:
        """The motion network's outputs into `out` (motion, flow, mask, object motion). Returns
        this frame's moving-object evidence (h, w) bool on the motion network's grid, for the
        hybrid motion's tracks (None without hybrid motion)."""
        k = torch.as_tensor(net_k, dtype=torch.float32, device=self.device).unsqueeze(0)
        with self._autocast():
            transform, object_motion = runner.motion(current, previous, depth, k)
        transform = transform.float()                          # (1, 4, 4) T_prev_cur
        object_motion = object_motion.float()                  # (1, 3, h, w) T_obj, prev frame
        out.network_motion = transform[0].double().cpu().numpy()
        flow, valid = geometry.optical_flow(depth, k, transform, object_motion)
        flow = torch.where(valid, flow, torch.full_like(flow, float('nan')))
        out.motion = out.network_motion.copy()
        out.flow = flow[0].permute(1, 2, 0).cpu().numpy()
        prev = self._mask_evidence  # used only when it is from the frame just before this one
        prev = prev[1] if prev is not None and prev[0] == self._frame_index - 1 else None
        mask, evidence = geometry.tracked_motion_mask(object_motion, depth, k, transform, prev)
        self._mask_evidence = (self._frame_index, evidence)
        out.motion_mask = mask[0, 0].cpu().numpy()
        current_frame = geometry.object_motion_to_current_frame(object_motion, transform)
        out.object_motion = current_frame[0].permute(1, 2, 0).cpu().numpy()
        if self._hybrid is None:
            return None
        return geometry.motion_mask(object_motion, depth, k, transform)[0, 0].cpu().numpy()

    def _hybrid_motion(self, out: EstimatorOutput, gray: np.ndarray, intrinsics: np.ndarray,
                       depth: np.ndarray, window: Window, moving: np.ndarray | None) -> None:
        """Hybrid camera motion (rmdepth_ros.motion.hybrid): the images' tracks give rotation
        and direction, the network's depth (on `window`'s grid) the scale; `moving`: the
        network's moving-object evidence on the input grid, None on a frame without motion
        (which still becomes the tracks' previous frame). Flow, masks and object motion keep
        the network's own decomposition (its camera motion + its object-motion field, which
        also absorbs its depth errors): re-composed with the hybrid's camera motion, flow on
        KITTI 00 got worse (EPE 5.76 px against 4.02)."""
        to_depth = (window.network_intrinsics(intrinsics) @ np.linalg.inv(intrinsics))[:2]
        result = self._hybrid.step(gray, intrinsics, depth, out.network_motion, moving,
                                   to_depth)
        if result is not None:
            out.motion, out.motion_info = result.motion, result

    def _refine(self, out: EstimatorOutput, gray: np.ndarray, intrinsics: np.ndarray) -> None:
        """The geometry stage: depth, confidence, flow and masks refined by what the camera's
        motion measures (rmdepth_ros.geometry.depth_from_motion). Only a motion the images
        confirmed (hybrid 'geometry', or the network's with motion_source 'network') is used
        to measure; a standing camera keeps the filter without measuring, a fallback drops it."""
        info = out.motion_info
        trusted = info is None or info.source in ('geometry', 'standing')
        standing = info is not None and info.source == 'standing'
        result = self._geometry.step(gray, intrinsics, out.depth, out.motion,
                                     out.motion_mask, standing=standing, trusted=trusted)
        out.depth = result.depth
        out.confidence, out.geometry = result.sigma, result
        self.last_observed = result.observed
        if result.flow is not None:
            out.flow, out.motion_mask = result.flow, result.moving

    def _watch_fallbacks(self, info: HybridResult | None) -> None:
        """Says once, loudly, when hybrid motion falls back to the network frame after frame
        (the counters in motion_counts say it per frame)."""
        if info is None:
            return
        self._fallback_run = self._fallback_run + 1 if info.source == 'network' else 0
        if self._fallback_run == _FALLBACK_WARN_FRAMES:
            self._log(f'warning: hybrid motion fell back to the network on '
                      f'{_FALLBACK_WARN_FRAMES} frames in a row (last reason: {info.reason}); '
                      f"camera motion is the motion network's until the images show it again")

    @staticmethod
    def _depth_array(depth: torch.Tensor) -> np.ndarray:
        """(1, 1, h, w) network depth -> (h, w) float32, NaN where not a positive number."""
        array = depth[0, 0].float().cpu().numpy()
        array[~np.isfinite(array) | (array <= 0)] = np.nan
        return array

    def _finish(self, out: EstimatorOutput, window: Window, motion_window: Window,
                intrinsics: np.ndarray) -> None:
        """Move outputs to numpy and, for output='input', back to the input image's grid
        (depth from `window`, the motion network's outputs from `motion_window`)."""
        depth = self._depth_array(out.depth)
        if self.output == 'network' or window.image_size == window.net_size:
            out.depth = depth.astype(np.float32, copy=False)
            return
        # Disparity, not depth, is resized, as the standard evaluation does (keeps edges sharp).
        out.depth = window.depth_to_input(depth)
        out.intrinsics = intrinsics.copy()
        if out.flow is not None:
            out.flow = motion_window.flow_to_input(out.flow)
            out.motion_mask = motion_window.mask_to_input(out.motion_mask)
            out.object_motion = motion_window.field_to_input(out.object_motion)

    def _autocast(self):
        if self.precision == 'fp32':
            return torch.autocast(device_type=self.device.type, enabled=False)
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)


#: consecutive hybrid fallbacks that make the estimator say so once
_FALLBACK_WARN_FRAMES = 10


def _stderr_line(line: str) -> None:
    print(f'[rmdepth_ros] {line}', file=sys.stderr, flush=True)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
