"""The two network calls of the Estimator, on PyTorch, ONNX Runtime or OpenVINO.

Every runner has the same two methods, torch tensors in and out on the Estimator's device:

- `depth(image)`: image (1, 3, H, W) RGB in [0, 1] -> sigmoid disparity (1, 1, H, W);
- `motion(current, previous, depth, K)`: (1, 3, H, W) twice, depth (1, 1, H, W) model units,
  K (1, 3, 3) pixels -> (T_prev_cur (1, 4, 4), object motion (1, 3, H, W) model units);

and a `description` for logs and /diagnostics. ONNX Runtime and OpenVINO run the ONNX files of
`onnx_export` at one fixed input size, in float32, with as many threads as torch uses.
"""

from __future__ import annotations

from collections.abc import Callable
import importlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rmdepth_ros.backends.onnx_export import INPUT_NAMES, cached_onnx
from rmdepth_ros.model.rmdepth import RMDepth

#: The pinned versions of the optional packages (also in requirements-backends.txt, setup.py).
PINNED = {'onnxruntime': '1.32.0', 'openvino': '2026.4.1', 'onnx': '1.23.2'}


class BackendError(ValueError):
    """A backend cannot be used (package missing, device unsupported); one readable line."""


def require(package: str, backend: str) -> Any:
    """Import `package` for `backend`, or raise BackendError naming it and the pip command."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise BackendError(
            f"backend '{backend}' needs the Python package '{package}', which is not "
            f"installed: pip install '{package}=={PINNED[package]}' (or pip install -r "
            f'requirements-backends.txt for all backends)') from None


class TorchRunner:
    """PyTorch eager: the networks of `model` as they are (autocast is the Estimator's)."""

    def __init__(self, model: RMDepth) -> None:
        self.model = model
        self.description = f'torch {torch.__version__}'

    def depth(self, image: Tensor) -> Tensor:
        return self.model.depth_net(image)['disp'][0]

    def motion(self, current: Tensor, previous: Tensor, depth: Tensor,
               K: Tensor) -> tuple[Tensor, Tensor]:
        motion = self.model.motion_net(current, previous, depth, K)
        return motion['T'], motion['object_motion']


class _OnnxRunner:
    """Shared part of the ONNX-based runners: numpy in and out, results back as tensors."""

    backend = ''

    def __init__(self, model: RMDepth, metadata: dict, input_size: tuple[int, int],
                 device: torch.device, log: Callable[[str], None]) -> None:
        self._runtime = require(self.backend, self.backend)
        require('onnx', self.backend)  # torch's ONNX exporter needs it
        self.device = device
        try:
            self.paths = cached_onnx(model, metadata, input_size, log)
        except OSError as error:
            raise BackendError(f"backend '{self.backend}': cannot write the ONNX files "
                               f'({error.__class__.__name__}: {error})') from None
        self.threads = torch.get_num_threads()
        self._depth = self._load(self.paths['depth'])
        self._motion = self._load(self.paths['motion'])

    def depth(self, image: Tensor) -> Tensor:
        (disp,) = self._run(self._depth, 'depth', (image,))
        return disp

    def motion(self, current: Tensor, previous: Tensor, depth: Tensor,
               K: Tensor) -> tuple[Tensor, Tensor]:
        transform, object_motion = self._run(self._motion, 'motion',
                                             (current, previous, depth, K))
        return transform, object_motion

    def _run(self, network: Any, name: str, inputs: tuple[Tensor, ...]) -> list[Tensor]:
        arrays = {key: np.ascontiguousarray(value.detach().float().cpu().numpy())
                  for key, value in zip(INPUT_NAMES[name], inputs, strict=True)}
        return [torch.from_numpy(np.asarray(out)).to(self.device)
                for out in self._infer(network, arrays)]

    def _load(self, path: Path) -> Any:
        raise NotImplementedError

    def _infer(self, network: Any, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError


class OnnxRuntimeRunner(_OnnxRunner):
    """ONNX Runtime; the CUDA execution provider on a CUDA device (onnxruntime-gpu), else CPU."""

    backend = 'onnxruntime'

    def _load(self, path: Path) -> Any:
        ort = self._runtime
        providers = ['CPUExecutionProvider']
        if self.device.type == 'cuda':
            if 'CUDAExecutionProvider' not in ort.get_available_providers():
                raise BackendError("backend 'onnxruntime' on a CUDA device needs the "
                                   'CUDAExecutionProvider, which this onnxruntime lacks: pip '
                                   'uninstall onnxruntime, then pip install -r '
                                   'requirements-gpu.txt (onnxruntime-gpu)')
            providers.insert(0, ('CUDAExecutionProvider', {'device_id': self.device.index or 0}))
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning: between the two network calls torch
        # runs the geometry on the same cores (ONNX Runtime's advice for shared CPUs).
        options.add_session_config_entry('session.intra_op.allow_spinning', '0')
        session = ort.InferenceSession(str(path), options, providers=providers)
        self.description = (f'onnxruntime {ort.__version__} '
                            f'({session.get_providers()[0]}, {self.threads} threads)')
        return session

    def _infer(self, network: Any, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        return network.run(None, arrays)


class OpenVinoRunner(_OnnxRunner):
    """OpenVINO on the CPU, float32 inference precision (its default is bf16 where supported)."""

    backend = 'openvino'

    def __init__(self, model: RMDepth, metadata: dict, input_size: tuple[int, int],
                 device: torch.device, log: Callable[[str], None]) -> None:
        if device.type != 'cpu':
            raise BackendError(f"backend 'openvino' runs on the CPU here; got device '{device}' "
                               "(use device 'cpu', or backend 'onnxruntime' or 'torch' on CUDA)")
        super().__init__(model, metadata, input_size, device, log)

    def _load(self, path: Path) -> Any:
        ov = self._runtime
        compiled = ov.Core().compile_model(str(path), 'CPU', {
            'INFERENCE_PRECISION_HINT': 'f32', 'PERFORMANCE_HINT': 'LATENCY',
            'INFERENCE_NUM_THREADS': self.threads})
        version = ov.__version__.split('-')[0]
        self.description = f'openvino {version} (CPU, f32, {self.threads} threads)'
        return compiled

    def _infer(self, network: Any, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        results = network(arrays)
        return [results[output] for output in network.outputs]
