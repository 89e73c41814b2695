"""Weights files: round trip, metadata, and one readable line for every failure."""

import json
import os
from pathlib import Path
import stat

import pytest
from safetensors.torch import save_file
import torch

from rmdepth_ros.model.config import TINY, RMDepthConfig
from rmdepth_ros.model.rmdepth import RMDepth
from rmdepth_ros.model.weights import WeightsError, load_weights, main, read_metadata, save_weights


def _error(path) -> str:
    with pytest.raises(WeightsError) as info:
        load_weights(path)
    message = str(info.value)
    assert '\n' not in message
    return message


def test_round_trip_restores_every_tensor_and_the_metadata(tmp_path: Path) -> None:
    torch.manual_seed(3)
    model = RMDepth(TINY)
    path = tmp_path / 'w.safetensors'
    digest = save_weights(path, model, TINY, (64, 32), trained_on='unit test', license='MIT')
    loaded, meta = load_weights(path)
    assert meta['config'] == TINY
    assert meta['input_size'] == (64, 32)
    assert meta['trained_on'] == 'unit test' and meta['license'] == 'MIT'
    assert meta['model_id'] == digest[:12]
    assert meta['scale']['mode'] == 'training'
    expected = model.state_dict()
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, expected[name]), name
    assert not loaded.training


@pytest.mark.parametrize('umask, mode', [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_weights_files_follow_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    path = tmp_path / 'w.safetensors'
    previous = os.umask(umask)
    try:
        save_weights(path, RMDepth(TINY), TINY, (64, 32))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert load_weights(path)[1]['input_size'] == (64, 32)


def test_float16_storage_loads_into_float32_parameters(tmp_path: Path) -> None:
    torch.manual_seed(4)
    model = RMDepth(TINY)
    path = tmp_path / 'half.safetensors'
    save_weights(path, model, TINY, (64, 32), dtype=torch.float16)
    loaded, _ = load_weights(path)
    for name, tensor in loaded.state_dict().items():
        reference = model.state_dict()[name]
        assert tensor.dtype == reference.dtype
        if tensor.is_floating_point():
            assert torch.allclose(tensor, reference, rtol=1e-3, atol=1e-4), name


def test_missing_file(tmp_path: Path) -> None:
    assert 'not found' in _error(tmp_path / 'nope.safetensors')


def test_a_text_file_is_not_a_weights_file(tmp_path: Path) -> None:
    path = tmp_path / 'notes.safetensors'
    path.write_text('these are not weights\n' * 20)
    assert 'not a weights file' in _error(path)


def test_a_tiny_file_is_not_a_weights_file(tmp_path: Path) -> None:
    path = tmp_path / 'tiny.safetensors'
    path.write_bytes(b'abc')
    assert 'not a weights file' in _error(path)


def test_safetensors_without_rmdepth_metadata(tmp_path: Path) -> None:
    path = tmp_path / 'other.safetensors'
    save_file({'x': torch.zeros(3)}, str(path))
    assert 'not an rmdepth_ros weights file' in _error(path)


def test_truncated_file(tiny_weights: Path, tmp_path: Path) -> None:
    path = tmp_path / 'cut.safetensors'
    data = tiny_weights.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert 'truncated or corrupt' in _error(path)


def test_edited_tensor_bytes_fail_the_content_hash(tiny_weights: Path, tmp_path: Path) -> None:
    path = tmp_path / 'edited.safetensors'
    data = bytearray(tiny_weights.read_bytes())
    data[-5] ^= 0xFF  # inside the last tensor's data
    path.write_bytes(bytes(data))
    assert 'content hash mismatch' in _error(path)


def test_architecture_mismatch_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / 'mismatch.safetensors'
    # Tensors of the tiny model, metadata claiming the default architecture.
    save_weights(path, RMDepth(TINY), RMDepthConfig(), (64, 32))
    assert 'architecture mismatch' in _error(path)


def test_unknown_architecture_key_is_invalid_metadata(tiny_weights: Path, tmp_path: Path) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(tiny_weights), framework='pt') as handle:
        metadata = dict(handle.metadata())
    config = json.loads(metadata['config'])
    config['wings'] = 2
    metadata['config'] = json.dumps(config)
    path = tmp_path / 'odd.safetensors'
    save_file(load_file(str(tiny_weights)), str(path), metadata=metadata)
    message = _error(path)
    assert 'invalid weights metadata' in message and 'wings' in message


def test_read_metadata_does_not_need_the_model(tiny_weights: Path) -> None:
    meta = read_metadata(tiny_weights)
    assert meta['format'] == 'rmdepth_ros.weights'
    assert len(meta['content_sha256']) == 64


def test_cli_info_prints_metadata(tiny_weights: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(['info', str(tiny_weights), '--json']) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown['input_size'] == [64, 32]
    assert shown['config']['hidden_channels'] == list(TINY.hidden_channels)


def test_cli_info_on_a_bad_file_is_one_line(tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    assert main(['info', str(tmp_path / 'missing.safetensors')]) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'not found' in err
