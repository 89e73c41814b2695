"""ONNX Runtime and OpenVINO backends: same outputs as PyTorch, ONNX cache, missing packages.

Each backend's tests run where its optional package is installed (`make venv` installs both)
and skip, saying which package is missing, elsewhere. The stated tolerance (docs/backends.md):
network outputs within 1e-5 of PyTorch's (object motion: 1e-5 x (1 + its largest
magnitude)); through the Estimator, depth within 1e-4 relative, flow within 1e-3 px.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
import torch

from rmdepth_ros.backends import (
    BACKEND_CHOICES,
    BACKENDS,
    BackendError,
    create_runner,
    onnx_export,
)
from rmdepth_ros.backends.runners import PINNED, TorchRunner
from rmdepth_ros.inference import Estimator
from rmdepth_ros.model.config import TINY
from rmdepth_ros.model.depth_net import disp_to_depth
from rmdepth_ros.model.rmdepth import RMDepth
from rmdepth_ros.model.weights import save_weights

ROOT = Path(__file__).resolve().parent.parent
NETWORK_ATOL = 1e-5
SIZES = [(64, 32), (96, 48), (128, 40)]  # (width, height), multiples of 8


def _installed(*packages: str) -> bool:
    for package in packages:
        try:
            importlib.import_module(package)
        except ImportError:
            return False
    return True


def _backend_param(name: str):
    missing = [p for p in (name, 'onnx') if not _installed(p)]
    reason = f"needs {' and '.join(missing)} (pip install -r requirements-backends.txt)"
    return pytest.param(name, marks=pytest.mark.skipif(bool(missing), reason=reason))


ONNX_BACKENDS = [_backend_param('onnxruntime'), _backend_param('openvino')]


@pytest.fixture(scope='module')
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TINY random weights in their own folder (the ONNX cache goes beside them)."""
    torch.manual_seed(3)
    path = tmp_path_factory.mktemp('backend_weights') / 'tiny.safetensors'
    save_weights(path, RMDepth(TINY), TINY, (64, 32))
    return path


def _inputs(width: int, height: int, seed: int) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    current = torch.rand(1, 3, height, width, generator=generator)
    previous = torch.rand(1, 3, height, width, generator=generator)
    K = torch.tensor([[[0.6 * width, 0.0, width / 2 - 0.5], [0.0, 1.9 * height, height / 2],
                       [0.0, 0.0, 1.0]]])
    return current, previous, K


@pytest.mark.parametrize('backend', ONNX_BACKENDS)
@pytest.mark.parametrize('size', SIZES)
def test_networks_match_pytorch(backend: str, size: tuple[int, int], weights: Path) -> None:
    estimator = Estimator(weights, device='cpu', input_size=size, backend='torch')
    model, metadata = estimator.model, estimator.metadata
    runner = create_runner(backend, model, metadata, size, torch.device('cpu'), log=print)
    reference = TorchRunner(model)
    current, previous, K = _inputs(*size, seed=size[0])
    with torch.inference_mode():
        disp, expected_disp = runner.depth(current), reference.depth(current)
        depth = disp_to_depth(expected_disp, TINY.min_depth, TINY.max_depth)[1]
        T, object_motion = runner.motion(current, previous, depth, K)
        expected_T, expected_object = reference.motion(current, previous, depth, K)
    assert disp.shape == (1, 1, size[1], size[0]) and disp.dtype == torch.float32
    assert torch.allclose(disp, expected_disp, rtol=0, atol=NETWORK_ATOL)
    assert T.shape == (1, 4, 4) and torch.allclose(T, expected_T, rtol=0, atol=NETWORK_ATOL)
    assert object_motion.shape == (1, 3, size[1], size[0])
    scale = 1.0 + float(expected_object.abs().max())
    assert torch.allclose(object_motion, expected_object, rtol=0, atol=NETWORK_ATOL * scale)
    assert float(expected_object.abs().max()) > 0  # a live field, not zeros on both sides


@pytest.mark.parametrize('resize', ['crop', 'native'])  # native: an export at 64x24
@pytest.mark.parametrize('backend', ONNX_BACKENDS)
def test_estimator_pipeline_matches_pytorch(backend: str, resize: str, weights: Path) -> None:
    """Depth, motion, flow and masks through the Estimator (resize, geometry unchanged). The
    networks' outputs (depth_source 'network'): the geometry stage after them is numpy / OpenCV
    whatever the backend, and amplifies 1e-5 differences into DIS's discrete choices."""
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, size=(90, 250, 3), dtype=np.uint8) for _ in range(3)]
    K = np.array([[150.0, 0.0, 124.5], [0.0, 150.0, 44.5], [0.0, 0.0, 1.0]])
    outputs = {}
    for name in ('torch', backend):
        estimator = Estimator(weights, device='cpu', backend=name, resize=resize,
                              depth_source='network')
        outputs[name] = [estimator.process(frame, K, 0.1 * i) for i, frame in enumerate(frames)]
    for ours, theirs in zip(outputs[backend], outputs['torch'], strict=True):
        np.testing.assert_array_equal(np.isnan(ours.depth), np.isnan(theirs.depth))
        np.testing.assert_allclose(ours.depth, theirs.depth, rtol=1e-4, equal_nan=True)
        if theirs.motion is None:
            assert ours.motion is None and ours.flow is None
            continue
        np.testing.assert_allclose(ours.motion, theirs.motion, rtol=0, atol=NETWORK_ATOL)
        np.testing.assert_allclose(ours.flow, theirs.flow, rtol=0, atol=1e-3, equal_nan=True)
        assert np.mean(ours.motion_mask != theirs.motion_mask) <= 1e-3


@pytest.mark.parametrize('backend', ONNX_BACKENDS[:1])  # (the cache is shared code)
def test_onnx_files_are_cached_beside_the_weights(backend: str, tmp_path: Path) -> None:
    torch.manual_seed(4)
    path = tmp_path / 'cached.safetensors'
    save_weights(path, RMDepth(TINY), TINY, (64, 32))
    lines: list[str] = []
    first = Estimator(path, device='cpu', backend=backend, log=lines.append)
    files = first.onnx_files
    assert len(lines) == 1 and 'ONNX' in lines[0] and str(tmp_path) in lines[0]
    assert {p.parent for p in files.values()} == {tmp_path}
    assert all(first.model_id in p.name and '64x32' in p.name for p in files.values())
    stamps = {name: p.stat().st_mtime_ns for name, p in files.items()}
    second = Estimator(path, device='cpu', backend=backend, log=lines.append)
    assert len(lines) == 1, 'the cached files must be reused without a new export'
    assert second.onnx_files == files
    assert {name: p.stat().st_mtime_ns for name, p in files.items()} == stamps
    other = Estimator(path, device='cpu', backend=backend, input_size=(96, 48),
                      log=lines.append)
    assert len(lines) == 2 and all('96x48' in p.name for p in other.onnx_files.values())
    assert not list(tmp_path.glob('*.tmp'))


def test_cache_falls_back_to_the_user_cache(weights: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    model = RMDepth(TINY)
    metadata = {'path': str(weights), 'model_id': 'abcdef012345'}
    beside = onnx_export.cache_paths(model, metadata, (64, 32))
    assert beside['depth'].parent == weights.parent
    assert beside['motion'].name.startswith('tiny.abcdef012345-')
    assert beside['motion'].name.endswith(f'.64x32.motion.{onnx_export.EXPORT_TAG}.onnx')
    # The same tensors with fewer RMU iterations are another network: other files.
    light = onnx_export.cache_paths(RMDepth(TINY.replace(iterations=(1, 1, 1))), metadata,
                                    (64, 32))
    assert light['depth'] != beside['depth']
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path))
    monkeypatch.setattr(onnx_export, '_writable', lambda folder: False)
    assert onnx_export.cache_paths(model, metadata, (64, 32))['depth'].parent == (
        tmp_path / 'rmdepth_ros')
    # A model without a weights file is keyed by its tensors: other tensors, other files.
    in_memory = onnx_export.cache_paths(model, {}, (64, 32))['depth']
    assert in_memory.parent == tmp_path / 'rmdepth_ros'
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    assert onnx_export.cache_paths(model, {}, (64, 32))['depth'] != in_memory


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_a_missing_package_is_one_line_with_the_pip_command(
        backend: str, weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def without(name: str, *args):
        if name == backend:
            raise ModuleNotFoundError(f"No module named '{name}'")
        return real(name, *args)

    monkeypatch.setattr(importlib, 'import_module', without)
    with pytest.raises(BackendError) as error:
        Estimator(weights, device='cpu', backend=backend)
    message = str(error.value)
    assert '\n' not in message and f"'{backend}'" in message
    assert f"pip install '{backend}=={PINNED[backend]}'" in message


def test_bad_backend_settings_are_errors(weights: Path) -> None:
    with pytest.raises(ValueError,
                       match='backend must be one of auto, torch, onnxruntime, openvino'):
        Estimator(weights, device='cpu', backend='tensorrt')


@pytest.mark.parametrize('backend', ONNX_BACKENDS)
def test_auto_device_needs_no_cuda(backend: str, weights: Path) -> None:
    estimator = Estimator(weights, device='auto', backend=backend)
    expected = 'cuda' if backend == 'onnxruntime' and torch.cuda.is_available() and (
        'CUDAExecutionProvider' in importlib.import_module(backend).get_available_providers()
    ) else 'cpu'
    assert estimator.device.type == expected


def test_pins_agree_everywhere() -> None:
    from rmdepth_ros.evaluation.cli import BACKENDS as CLI_BACKENDS
    from rmdepth_ros.ros.node_config import SPECS

    assert SPECS['backend'].choices == BACKEND_CHOICES == CLI_BACKENDS
    assert BACKEND_CHOICES == ('auto', *BACKENDS)
    listed = {}
    for line in (ROOT / 'requirements-backends.txt').read_text().splitlines():
        if line.strip() and not line.startswith('#'):
            name, version = line.split('==')
            listed[name.strip()] = version.strip()
    assert {name: listed[name] for name in PINNED} == PINNED
    setup = (ROOT / 'setup.py').read_text()
    assert all(f"'{name}=={version}'" in setup for name, version in PINNED.items())
