"""Faster ways to run the PyTorch networks: channels-last, CUDA graphs, torch.compile.

A variant is 'eager' (`TorchRunner`, what the Estimator uses) or a '+'-joined set of
'channels_last' (model and inputs in NHWC memory order), 'compile' (`torch.compile` of both
networks, fixed shapes) and 'cuda_graph' (each network captured once in a CUDA graph at the
Estimator's input size and replayed: one launch instead of hundreds; CUDA only). Every variant
is a runner with the interface of rmdepth_ros.backends.runners, so it can stand in for the
Estimator's own. bench/bench_gpu.py measures them and compares their outputs with CPU fp32;
none is the Estimator's default until such a measurement says it pays (docs/gpu.md).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from rmdepth_ros.backends.runners import BackendError, TorchRunner
from rmdepth_ros.model.rmdepth import RMDepth

PARTS = ('channels_last', 'compile', 'cuda_graph')
#: Warm-up calls before a capture (cuDNN picks its algorithms, lazy state is created).
GRAPH_WARMUP = 3


def parse_variant(variant: str) -> frozenset[str]:
    """'eager' -> {}; 'channels_last+cuda_graph' -> {'channels_last', 'cuda_graph'}."""
    if variant == 'eager':
        return frozenset()
    parts = variant.split('+')
    if not variant or any(part not in PARTS for part in parts) or len(set(parts)) != len(parts):
        raise BackendError(f"variant must be 'eager' or a '+'-joined set of "
                           f"{', '.join(PARTS)}, got '{variant}'")
    return frozenset(parts)


def build_runner(model: RMDepth, variant: str, device: torch.device,
                 input_size: tuple[int, int], autocast_dtype: torch.dtype | None) -> TorchRunner:
    """The runner of `variant` for `model` (already on `device`, in eval mode).

    input_size: (width, height) of every call (CUDA graphs are captured at that size).
    autocast_dtype: torch.float16 / torch.bfloat16 for autocast, None for float32; a CUDA
    graph records the kernels of that precision. The model is copied before it is changed.
    """
    parts = parse_variant(variant)
    if 'cuda_graph' in parts and device.type != 'cuda':
        raise BackendError(f"variant '{variant}' needs a CUDA device, got '{device}'")
    if parts & {'channels_last', 'compile'}:
        model = copy.deepcopy(model)
    runner = ChannelsLastRunner(model) if 'channels_last' in parts else TorchRunner(model)
    if 'compile' in parts:
        runner = CompiledRunner(runner)
    if 'cuda_graph' in parts:
        runner = CudaGraphRunner(runner, input_size, device, autocast_dtype)
    runner.description = f'torch {torch.__version__} ({variant})'
    return runner


class ChannelsLastRunner(TorchRunner):
    """The networks with NHWC weights and inputs (cuDNN's fast layout for half precision)."""

    def __init__(self, model: RMDepth) -> None:
        super().__init__(model.to(memory_format=torch.channels_last))

    def depth(self, image: Tensor) -> Tensor:
        return super().depth(image.contiguous(memory_format=torch.channels_last))

    def motion(self, current: Tensor, previous: Tensor, depth: Tensor,
               K: Tensor) -> tuple[Tensor, Tensor]:
        nhwc = torch.channels_last
        return super().motion(current.contiguous(memory_format=nhwc),
                              previous.contiguous(memory_format=nhwc),
                              depth.contiguous(memory_format=nhwc), K)


class CompiledRunner(TorchRunner):
    """`inner`'s networks through torch.compile (compiled on the first call, fixed shapes)."""

    def __init__(self, inner: TorchRunner) -> None:
        super().__init__(inner.model)
        self._inner = inner
        self._depth = torch.compile(inner.depth, dynamic=False)
        self._motion = torch.compile(inner.motion, dynamic=False)

    def depth(self, image: Tensor) -> Tensor:
        return self._depth(image)

    def motion(self, current: Tensor, previous: Tensor, depth: Tensor,
               K: Tensor) -> tuple[Tensor, Tensor]:
        return self._motion(current, previous, depth, K)


class CudaGraphRunner(TorchRunner):
    """`inner`'s two network calls captured as CUDA graphs at one input size.

    Each call copies its inputs into the graph's own tensors, replays the graph and returns
    copies of its outputs (so a result stays valid after the next call).
    """

    def __init__(self, inner: TorchRunner, input_size: tuple[int, int], device: torch.device,
                 autocast_dtype: torch.dtype | None) -> None:
        super().__init__(inner.model)
        width, height = input_size
        self._autocast_dtype = autocast_dtype
        self._device = device
        generator = torch.Generator(device=device).manual_seed(0)
        with torch.inference_mode():
            self._image = torch.rand(1, 3, height, width, device=device, generator=generator)
            self._previous = torch.rand(1, 3, height, width, device=device, generator=generator)
            self._depth_in = torch.full((1, 1, height, width), 10.0, device=device)
            self._k = torch.tensor([[[0.58 * width, 0.0, width / 2 - 0.5],
                                     [0.0, 1.92 * height, height / 2 - 0.5],
                                     [0.0, 0.0, 1.0]]], device=device)
            inputs = (self._image, self._previous, self._depth_in, self._k)
            # Warm up on a side stream, as capture requires, then capture each network.
            side = torch.cuda.Stream(device)
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side), self._autocast():
                for _ in range(GRAPH_WARMUP):
                    inner.depth(self._image)
                    inner.motion(*inputs)
            torch.cuda.current_stream(device).wait_stream(side)
            self._depth_graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self._depth_graph), self._autocast():
                self._disp = inner.depth(self._image)
            self._motion_graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self._motion_graph), self._autocast():
                self._transform, self._object_motion = inner.motion(*inputs)

    def depth(self, image: Tensor) -> Tensor:
        self._image.copy_(image)
        self._depth_graph.replay()
        return self._disp.clone()

    def motion(self, current: Tensor, previous: Tensor, depth: Tensor,
               K: Tensor) -> tuple[Tensor, Tensor]:
        for static, value in zip((self._image, self._previous, self._depth_in, self._k),
                                 (current, previous, depth, K), strict=True):
            static.copy_(value)
        self._motion_graph.replay()
        return self._transform.clone(), self._object_motion.clone()

    def _autocast(self) -> torch.autocast:
        # No weight-cast cache: cached casts made during capture would be freed after it.
        if self._autocast_dtype is None:
            return torch.autocast(device_type='cuda', enabled=False)
        return torch.autocast(device_type='cuda', dtype=self._autocast_dtype,
                              cache_enabled=False)
