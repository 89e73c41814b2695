"""The precision option: 'auto' per device and backend, the CUDA defaults file, bad values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rmdepth_ros.device import (
    CUDA_DEFAULT_VARIANTS,
    CUDA_DEFAULTS_FILE,
    PRECISION_CHOICES,
    cuda_defaults,
    cuda_runner_variant,
    resolve_precision,
)
from rmdepth_ros.inference import Estimator
from rmdepth_ros.ros.node_config import NodeConfig

CPU, CUDA = torch.device('cpu'), torch.device('cuda')  # a device object needs no GPU


def test_auto_is_fp32_on_cpu_and_for_onnx_backends(tmp_path: Path) -> None:
    half = tmp_path / 'defaults.json'
    half.write_text(json.dumps({'precision': 'fp16', 'measured': True}))
    assert resolve_precision('auto', CPU, defaults=half) == 'fp32'
    assert resolve_precision('auto', CUDA, 'onnxruntime', defaults=half) == 'fp32'
    assert resolve_precision('auto', CUDA, 'torch', defaults=half) == 'fp16'
    assert resolve_precision('bf16', CUDA, defaults=half) == 'bf16'  # explicit wins


def test_unknown_precision_and_broken_defaults_give_one_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as error:
        resolve_precision('fp64', CPU)
    assert str(error.value) == "precision must be one of auto, fp32, fp16, bf16, got 'fp64'"
    broken = tmp_path / 'defaults.json'
    for text in ('{not json', json.dumps({'precision': 'int8'}), '[]'):
        broken.write_text(text)
        with pytest.raises(ValueError) as error:
            resolve_precision('auto', CUDA, defaults=broken)
        assert str(broken) in str(error.value) and '\n' not in str(error.value)


def test_the_shipped_defaults_are_honest() -> None:
    """Until a GPU measured otherwise, CUDA runs the reference precision, eager."""
    data = cuda_defaults()
    assert CUDA_DEFAULTS_FILE.name == 'cuda_defaults.json'
    assert (data['precision'], data['variant']) == ('fp32', 'eager') or data['measured'] is True
    assert isinstance(data['note'], str) and data['note']


def test_estimator_and_node_take_auto(tiny_weights: Path) -> None:
    estimator = Estimator(tiny_weights, device='cpu')  # the default is 'auto'
    assert estimator.precision == 'fp32' and estimator.autocast_dtype == torch.float32
    with pytest.raises(ValueError, match='precision must be one of auto, fp32, fp16, bf16'):
        Estimator(tiny_weights, device='cpu', precision='half')
    assert NodeConfig.from_values({}).precision == 'auto'
    for value in PRECISION_CHOICES:
        assert NodeConfig.from_values({'precision': value}).precision == value


def test_the_cuda_runner_variant_comes_from_the_defaults(tmp_path: Path) -> None:
    graphs = tmp_path / 'defaults.json'
    graphs.write_text(json.dumps({'precision': 'bf16', 'variant': 'cuda_graph'}))
    assert cuda_runner_variant(CUDA, 'torch', defaults=graphs) == 'cuda_graph'
    assert cuda_runner_variant(CUDA, 'onnxruntime', defaults=graphs) == 'eager'
    assert cuda_runner_variant(CPU, 'torch', defaults=graphs) == 'eager'
    assert cuda_defaults(CUDA_DEFAULTS_FILE)['variant'] in CUDA_DEFAULT_VARIANTS
    graphs.write_text(json.dumps({'precision': 'fp32'}))  # no variant: eager
    assert cuda_runner_variant(CUDA, defaults=graphs) == 'eager'
    graphs.write_text(json.dumps({'precision': 'fp32', 'variant': 'compile'}))
    with pytest.raises(ValueError, match="'variant' must be one of eager, channels_last"):
        cuda_runner_variant(CUDA, defaults=graphs)


@pytest.mark.skipif(torch.version.cuda is not None, reason='this PyTorch is a CUDA build')
def test_cuda_on_a_cpu_only_torch_names_the_gpu_requirements(tiny_weights: Path) -> None:
    with pytest.raises(ValueError) as error:
        Estimator(tiny_weights, device='cuda')
    assert 'requirements-gpu.txt' in str(error.value) and '\n' not in str(error.value)
