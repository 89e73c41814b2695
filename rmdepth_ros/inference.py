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

from rmdepth_ros.backends import BACKENDS, create_runner, resolve_auto_device
from rmdepth_ros.continuity import PreviousFrame, continuity_break
from rmdepth_ros.device import PRECISIONS, select_device
from rmdepth_ros.frame_input import to_network_tensor, validate_frame, validate_skipped
from rmdepth_ros.model import geometry
from rmdepth_ros.model.depth_net import disp_to_depth
from rmdepth_ros.model.rmdepth import RMDepth
from rmdepth_ros.model.weights import load_weights
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
      since the previous frame with camera motion removed. None on the first frame.
    reset_reason: why the temporal state was reset before this frame, else None.
    timings: milliseconds spent in 'preprocess', 'depth', 'motion', 'postprocess', 'total'.
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
    timings: dict[str, float] = field(default_factory=dict)


class Estimator:
    """Per-frame depth, ego-motion, optical flow and moving-object masks.

    weights: path of a weights file (None = the shipped default).
    device: 'auto' | 'cpu' | 'cuda' | 'cuda:N'. precision: 'fp32', or 'fp16' / 'bf16' on CUDA.
    input_size: (width, height) of the network input; default: the weights' training size.
      Both must be multiples of 8.
    max_frame_gap: seconds; a larger gap between consecutive frames of the stream resets the
      temporal state (frames the caller skipped count: see `process`).
    output: 'input' (outputs at the input image's resolution) or 'network' (at input_size).
    resize: how an image whose aspect ratio differs from input_size's reaches the network:
      'crop' (centre crop; outputs NaN outside it), 'pad' (edge-replicated padding) or
      'stretch'; see rmdepth_ros.resize.
    backend: where the two networks run: 'torch' (eager), 'onnxruntime' or 'openvino' (ONNX
      exports of the same weights, built on first use and cached; fp32 only; see
      rmdepth_ros.backends). Everything else is the same for every backend.
    log: receives one line when ONNX files are exported (default: stderr).
    """

    def __init__(self, weights: str | os.PathLike | None = None, device: str = 'auto',
                 precision: str = 'fp32', input_size: tuple[int, int] | None = None,
                 max_frame_gap: float = 0.5, output: str = 'input',
                 model: RMDepth | None = None, metadata: dict[str, Any] | None = None,
                 resize: str = DEFAULT_RESIZE, backend: str = 'torch',
                 log: Callable[[str], None] | None = None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got '{backend}'")
        self.device = select_device(resolve_auto_device(backend, device))
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, "
                             f"got '{precision}'")
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
        self.backend = backend
        self._runner = create_runner(backend, self.model, self.metadata, self.input_size,
                                     self.device, log or _stderr_line)
        self._previous: PreviousFrame | None = None
        self._pending_reset: str | None = 'first frame'
        self._frame_index = 0
        # (frame index, moving-object evidence) of the last frame with motion.
        self._mask_evidence: tuple[int, torch.Tensor] | None = None
        #: Called after every frame with (network input (1, 3, h, w) RGB in [0, 1], its
        #: intrinsics (3, 3), whether the temporal state was reset before it): online
        #: adaptation (`rmdepth_ros.ros.adaptation`) learns from these. None: nobody listens.
        self.observer: Callable[[torch.Tensor, np.ndarray, bool], None] | None = None

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
        skipped = validate_skipped(skipped)
        size = image.shape[:2]
        reason = continuity_break(self._previous, size, intrinsics, timestamp, skipped,
                                  self.max_frame_gap)
        if reason is not None:
            self.reset(reason)
        reset_reason, self._pending_reset = self._pending_reset, None

        window = input_window((size[1], size[0]), self.input_size, self.resize)
        net_k = window.network_intrinsics(intrinsics)
        tensor = to_network_tensor(window.to_network(image), self.input_size, self.device)
        timings = {'preprocess': _ms(start)}

        with torch.inference_mode():
            tick = time.perf_counter()
            with self._autocast():
                disp = self._runner.depth(tensor)            # (1, 1, h, w) sigmoid
            _, depth = disp_to_depth(disp.float(), self.model.config.min_depth,
                                     self.model.config.max_depth)
            timings['depth'] = _ms(tick)
            out = EstimatorOutput(timestamp=timestamp, frame_index=self._frame_index,
                                  depth=depth, intrinsics=net_k, reset_reason=reset_reason)
            tick = time.perf_counter()
            if compute_motion and self._previous is not None:
                self._estimate_motion(out, tensor, self._previous.image, depth, net_k)
            timings['motion'] = _ms(tick)
        tick = time.perf_counter()
        self._finish(out, window, intrinsics)
        timings['postprocess'] = _ms(tick)
        timings['total'] = _ms(start)
        out.timings = timings
        self._previous = PreviousFrame(tensor, timestamp, size, intrinsics)
        self._frame_index += 1
        if self.observer is not None:
            self.observer(tensor, net_k, reset_reason is not None)
        return out

    # -- steps -------------------------------------------------------------------------------

    def _estimate_motion(self, out: EstimatorOutput, current: torch.Tensor,
                         previous: torch.Tensor, depth: torch.Tensor, net_k: np.ndarray) -> None:
        k = torch.as_tensor(net_k, dtype=torch.float32, device=self.device).unsqueeze(0)
        with self._autocast():
            transform, object_motion = self._runner.motion(current, previous, depth, k)
        transform = transform.float()                          # (1, 4, 4) T_prev_cur
        object_motion = object_motion.float()                  # (1, 3, h, w) T_obj, prev frame
        flow, valid = geometry.optical_flow(depth, k, transform, object_motion)
        flow = torch.where(valid, flow, torch.full_like(flow, float('nan')))
        out.motion = transform[0].double().cpu().numpy()
        out.flow = flow[0].permute(1, 2, 0).cpu().numpy()
        prev = self._mask_evidence  # used only when it is from the frame just before this one
        prev = prev[1] if prev is not None and prev[0] == self._frame_index - 1 else None
        mask, evidence = geometry.tracked_motion_mask(object_motion, depth, k, transform, prev)
        self._mask_evidence = (self._frame_index, evidence)
        out.motion_mask = mask[0, 0].cpu().numpy()
        current_frame = geometry.object_motion_to_current_frame(object_motion, transform)
        out.object_motion = current_frame[0].permute(1, 2, 0).cpu().numpy()

    def _finish(self, out: EstimatorOutput, window: Window, intrinsics: np.ndarray) -> None:
        """Move outputs to numpy and, for output='input', back to the input image's grid."""
        depth = out.depth[0, 0].float().cpu().numpy()
        depth[~np.isfinite(depth) | (depth <= 0)] = np.nan
        if self.output == 'network' or window.image_size == window.net_size:
            out.depth = depth.astype(np.float32, copy=False)
            return
        # Disparity, not depth, is resized, as the standard evaluation does (keeps edges sharp).
        out.depth = window.depth_to_input(depth)
        out.intrinsics = intrinsics.copy()
        if out.flow is not None:
            out.flow = window.flow_to_input(out.flow)
            out.motion_mask = window.mask_to_input(out.motion_mask)
            out.object_motion = window.field_to_input(out.object_motion)

    def _autocast(self):
        if self.precision == 'fp32':
            return torch.autocast(device_type=self.device.type, enabled=False)
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)


def _stderr_line(line: str) -> None:
    print(f'[rmdepth_ros] {line}', file=sys.stderr, flush=True)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
