"""Inference backends: where the Estimator's two network calls run.

'torch' (PyTorch; eager, or on CUDA a faster variant of `torch_variants` where
rmdepth_ros/cuda_defaults.json names one), 'onnxruntime' or 'openvino'; the last two run ONNX
exports of the same weights (`onnx_export`) and need the optional packages of
requirements-backends.txt (`pip install -e .[backends]`). 'auto' (the node's default) picks one
with `choose_backend`. Everything else the Estimator does (resizing, geometry, flow, masks,
reset rules) is the same for every backend.
"""

from __future__ import annotations

from collections.abc import Callable
import importlib.util

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
#: What the `backend` option accepts: a backend, or 'auto' (`choose_backend`).
BACKEND_CHOICES = ('auto', *BACKENDS)

#: backend 'auto' on the CPU: the first one installed. The order is the measured speed through
#: the node on a 2-core CPU with the shipped weights (docs/backends.md: OpenVINO 12.5-13.7
#: FPS, ONNX Runtime 11.6, torch 7.2-7.9).
CPU_PREFERENCE = ('openvino', 'onnxruntime', 'torch')

#: What the start-up line says when the fastest CPU backend is not installed: the two packages
#: it needs, pinned as in requirements-backends.txt (both have wheels for Python 3.10-3.12; the
#: pinned onnxruntime has none for 3.10, ROS 2 Humble's Python).
FASTEST_HINT = ('OpenVINO (2x torch through the node): pip install onnx==1.23.2 '
                'openvino==2026.4.1')

__all__ = ['BACKENDS', 'BACKEND_CHOICES', 'BackendError', 'choose_backend', 'create_runner',
           'resolve_auto_device']


def installed(package: str) -> bool:
    """Whether `package` can be imported (found, not imported: no start-up cost)."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # a parent package missing, or a broken module entry
        return False


def choose_backend(device: str, precision: str = 'fp32',
                   is_installed: Callable[[str], bool] = installed,
                   cuda_available: bool | None = None) -> tuple[str, str]:
    """The backend for 'auto', and why: (backend, one line for the log and /diagnostics).

    device: the device option ('auto', 'cpu', 'cuda', 'cuda:N'); with 'auto', CUDA counts when
    torch sees it (`cuda_available`, default torch.cuda.is_available()). On CUDA, and for
    fp16 / bf16, torch: the ONNX backends run fp32, OpenVINO only on the CPU here, and ONNX
    Runtime on CUDA needs onnxruntime-gpu, which is not among our pinned packages. On the CPU
    the first of CPU_PREFERENCE whose packages (with onnx, for the export) are installed.
    """
    if precision not in ('fp32', 'auto'):
        return 'torch', f'auto: torch (precision {precision} runs on torch only)'
    cuda = torch.cuda.is_available() if cuda_available is None else cuda_available
    if device.startswith('cuda') or (device == 'auto' and cuda):
        return 'torch', 'auto: torch (on CUDA)'
    skipped = []
    for backend in CPU_PREFERENCE[:-1]:
        missing = [p for p in (backend, 'onnx') if not is_installed(p)]
        if not missing:
            break
        skipped.append(f"{backend}: {' and '.join(missing)} not installed")
    else:
        backend = CPU_PREFERENCE[-1]  # torch, always there
    why = f" ({'; '.join(skipped)})" if skipped else ''
    if skipped:
        why += f'; for {FASTEST_HINT}'
    return backend, f'auto: {backend}, the fastest installed on the CPU{why}'


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
