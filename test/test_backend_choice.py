"""backend 'auto': which backend it picks (a plain function of what is installed and the
device), and that the Estimator runs, names and, if need be, abandons that choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rmdepth_ros import inference
from rmdepth_ros.backends import FASTEST_HINT, BackendError, choose_backend, installed
from rmdepth_ros.inference import Estimator


def only(*packages: str):
    """An `is_installed` that sees just `packages`."""
    return lambda package: package in packages


ALL = only('openvino', 'onnxruntime', 'onnx')
REQUIREMENTS = Path(__file__).resolve().parent.parent / 'requirements-backends.txt'


@pytest.mark.parametrize('packages, expected', [
    (('openvino', 'onnxruntime', 'onnx'), 'openvino'),
    (('onnxruntime', 'onnx'), 'onnxruntime'),
    (('openvino', 'onnxruntime'), 'torch'),  # no onnx: nothing can export the networks
    (('openvino', 'onnx'), 'openvino'),
    ((), 'torch'),
])
def test_on_the_cpu_the_fastest_installed(packages: tuple[str, ...], expected: str) -> None:
    backend, why = choose_backend('cpu', is_installed=only(*packages), cuda_available=True)
    assert backend == expected and why.startswith(f'auto: {expected}')


def test_the_reason_names_what_is_missing() -> None:
    _, why = choose_backend('cpu', is_installed=only('onnxruntime', 'onnx'))
    assert why == ('auto: onnxruntime, the fastest installed on the CPU '
                   '(openvino: openvino not installed); for OpenVINO (2x torch through the '
                   'node): pip install onnx==1.23.2 openvino==2026.4.1')
    _, why = choose_backend('cpu', is_installed=only())
    assert why.startswith('auto: torch, the fastest installed on the CPU (openvino: openvino '
                          'and onnx not installed; onnxruntime: onnxruntime and onnx not '
                          'installed); for OpenVINO') and why.endswith(FASTEST_HINT)
    _, why = choose_backend('cpu', is_installed=ALL)
    assert why == 'auto: openvino, the fastest installed on the CPU'


def test_the_install_hint_pins_what_requirements_backends_pins() -> None:
    pinned = {line.split('==')[0]: line.strip() for line in REQUIREMENTS.read_text().splitlines()
              if '==' in line and not line.startswith('#')}
    named = [word for word in FASTEST_HINT.split() if '==' in word]
    assert named == [pinned['onnx'], pinned['openvino']]


@pytest.mark.parametrize('device, cuda', [('cuda', True), ('cuda:1', True), ('auto', True)])
def test_on_cuda_torch(device: str, cuda: bool) -> None:
    assert choose_backend(device, is_installed=ALL, cuda_available=cuda) == (
        'torch', 'auto: torch (on CUDA)')


def test_device_auto_without_cuda_is_the_cpu() -> None:
    assert choose_backend('auto', is_installed=ALL, cuda_available=False)[0] == 'openvino'


@pytest.mark.parametrize('precision', ['fp16', 'bf16'])
def test_half_precision_needs_torch(precision: str) -> None:
    backend, why = choose_backend('cpu', precision, is_installed=ALL, cuda_available=False)
    assert backend == 'torch' and precision in why


def test_precision_auto_on_the_cpu_is_fp32_so_the_fastest_backend() -> None:
    backend, _ = choose_backend('cpu', 'auto', is_installed=ALL, cuda_available=False)
    assert backend == 'openvino'


def test_installed_finds_without_importing() -> None:
    assert installed('numpy') and not installed('no_such_package_rmdepth')
    assert not installed('no_such_package_rmdepth.sub')


def test_estimator_auto_runs_what_choose_backend_picks(tiny_weights: Path) -> None:
    estimator = Estimator(tiny_weights, device='cpu', backend='auto')
    expected, why = choose_backend('cpu')
    assert estimator.backend == expected and estimator.backend_choice == why
    assert estimator.backend_description.startswith(f'{expected} ')
    out = estimator.process(np.zeros((32, 64, 3), np.uint8), np.diag([40.0, 40.0, 1.0]), 0.0)
    assert np.isfinite(out.depth).all()
    assert Estimator(tiny_weights, device='cpu').backend_choice is None  # explicit: torch


def test_auto_falls_back_to_torch_when_its_choice_cannot_start(
        tiny_weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = inference.create_runner

    def refuse_onnx(backend: str, *args, **kwargs):
        if backend != 'torch':
            raise BackendError(f"backend '{backend}': cannot write the ONNX files")
        return real(backend, *args, **kwargs)

    monkeypatch.setattr(inference, 'create_runner', refuse_onnx)
    monkeypatch.setattr(inference, 'choose_backend',
                        lambda device, precision: ('openvino', 'auto: openvino, test'))
    lines = []
    estimator = Estimator(tiny_weights, device='cpu', backend='auto', log=lines.append)
    assert estimator.backend == 'torch'
    assert estimator.backend_choice.startswith('auto: torch (openvino failed: ')
    assert len(lines) == 1 and 'using torch' in lines[0]
    with pytest.raises(BackendError, match='cannot write'):  # asked for by name: an error
        Estimator(tiny_weights, device='cpu', backend='openvino')


def test_unknown_backend_names_the_choices(tiny_weights: Path) -> None:
    with pytest.raises(ValueError, match="one of auto, torch, onnxruntime, openvino, got 'tpu'"):
        Estimator(tiny_weights, device='cpu', backend='tpu')
