"""Inference backends: where the Estimator's two network calls run.

'torch' (PyTorch; eager, or on CUDA a faster variant of `torch_variants` where
rmdepth_ros/cuda_defaults.json names one), 'onnxruntime' or 'openvino'; the last two run ONNX
exports of the same weights (`onnx_export`) and need the optional packages of
requirements-backends.txt (`pip install -e .[backends]`). Everything else the Estimator does
(resizing, geometry, flow, masks, reset rules) is the same for every backend.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from rmdepth_ros.backends.runners import (
    BackendError,
    OnnxRuntimeRunner,
    OpenVinoRunner,
    TorchRunner,
    require,
)
from rmdepth_ros.backends.torch_variants import build_runner
from rmdepth_ros.model.rmdepth import RMDepth

BACKENDS = ('torch', 'onnxruntime', 'openvino')

__all__ = ['BACKENDS', 'BackendError', 'create_runner', 'resolve_auto_device']


def resolve_auto_device(backend: str, device: str) -> str:
    """`device` with 'auto' made concrete for `backend`: OpenVINO runs on the CPU here; ONNX
    Runtime uses CUDA only where both torch and onnxruntime (onnxruntime-gpu) can."""
    if device != 'auto' or backend == 'torch':
        return device
    if backend == 'openvino':
        return 'cpu'
    providers = require('onnxruntime', backend).get_available_providers()
    return 'cuda' if torch.cuda.is_available() and 'CUDAExecutionProvider' in providers else 'cpu'


def create_runner(backend: str, model: RMDepth, metadata: dict, input_size: tuple[int, int],
                  device: torch.device, log: Callable[[str], None], variant: str = 'eager',
                  autocast_dtype: torch.dtype | None = None):
    """The runner of `backend` for `model` at input_size (width, height) on `device`.

    variant: for backend 'torch', a variant of rmdepth_ros.backends.torch_variants (a CUDA
    graph records the kernels of autocast_dtype, None for float32).
    Raises BackendError (a ValueError, one line) for an unknown backend, a missing package or
    an unsupported device.
    """
    if backend == 'torch':
        if variant == 'eager':
            return TorchRunner(model)
        return build_runner(model, variant, device, input_size, autocast_dtype)
    if backend == 'onnxruntime':
        return OnnxRuntimeRunner(model, metadata, input_size, device, log)
    if backend == 'openvino':
        return OpenVinoRunner(model, metadata, input_size, device, log)
    raise BackendError(f"backend must be one of {', '.join(BACKENDS)}, got '{backend}'")
