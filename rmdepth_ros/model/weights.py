"""Self-describing weights files: safetensors tensors plus JSON metadata.

A weights file rebuilds the model on its own: the safetensors header's `__metadata__` holds

- `format` = 'rmdepth_ros.weights' and `format_version` = '1';
- `config`: the architecture (`RMDepthConfig.to_dict()`) as JSON;
- `input_size`: [width, height] the networks were trained at, as JSON;
- `scale`: JSON object, the scale convention of depth and translation (see ros_interface.md);
- `trained_on`, `license`, `created`, `notes`: free text;
- `content_sha256`: hash of every tensor's name, dtype, shape and bytes. The first 12 hex digits
  are the model id reported by the estimator and the ROS node.

Loading is strict: every failure raises `WeightsError` with one readable line (missing file, not
a weights file, truncated file, content hash mismatch, architecture mismatch). Tensors may be
stored in float16 to keep the shipped file small; they are loaded into float32 parameters.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
from pathlib import Path
import sys
from typing import Any

import torch

from rmdepth_ros.model.config import RMDepthConfig

FORMAT = 'rmdepth_ros.weights'
FORMAT_VERSION = '1'
DEFAULT_WEIGHTS = (Path(__file__).resolve().parent.parent / 'weights'
                   / 'rmdepth_default.safetensors')
_REQUIRED = ('format', 'format_version', 'config', 'input_size', 'content_sha256')


class WeightsError(Exception):
    """A weights file cannot be used; the message is one line naming the file and the problem."""


def content_hash(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over (name, dtype, shape, bytes) of every tensor, in sorted name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(str(tuple(tensor.shape)).encode())
        # Viewing as bytes works for every dtype, including bfloat16 which numpy lacks.
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_weights(path: str | os.PathLike, model: torch.nn.Module, config: RMDepthConfig,
                 input_size: tuple[int, int], *, trained_on: str = 'untrained (random init)',
                 license: str = 'Apache-2.0', scale: dict[str, Any] | None = None,
                 notes: str = '', dtype: torch.dtype = torch.float32) -> str:
    """Write `model`'s state dict and metadata to `path`; returns the content hash.

    input_size: (width, height) in pixels. dtype: storage type of floating-point tensors.
    """
    from safetensors.torch import save

    tensors = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu()
        if tensor.is_floating_point():
            tensor = tensor.to(dtype)
        tensors[name] = tensor.contiguous().clone()
    digest = content_hash(tensors)
    if scale is None:
        scale = {'mode': 'training',
                 'description': 'depth and translation in model units, the scale learned from '
                                'the training data: not metres unless the training data were '
                                'metric and the camera matches the training camera'}
    metadata = {
        'format': FORMAT,
        'format_version': FORMAT_VERSION,
        'config': json.dumps(config.to_dict()),
        'input_size': json.dumps([int(input_size[0]), int(input_size[1])]),
        'scale': json.dumps(scale),
        'trained_on': trained_on,
        'license': license,
        'created': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'notes': notes,
        'content_sha256': digest,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # written with open() so that the file's mode follows the umask like any other file's
    # (safetensors' save_file creates its files 0600)
    with open(path, 'wb') as file:
        file.write(save(tensors, metadata=metadata))
    return digest


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The decoded metadata of a weights file (JSON fields parsed), without loading tensors."""
    from safetensors import safe_open

    path = Path(path)
    _check_file(path)
    try:
        with safe_open(str(path), framework='pt') as handle:
            raw = handle.metadata() or {}
    except Exception as error:  # safetensors raises its own error types for bad headers
        raise WeightsError(_unreadable(path, error)) from None
    return _decode_metadata(path, raw)


def load_weights(path: str | os.PathLike | None = None, device: str | torch.device = 'cpu'
                 ) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Build the model described by a weights file and load its tensors strictly.

    Returns (model in eval mode on `device`, metadata). `path=None` loads the shipped default.
    """
    from safetensors.torch import load_file

    from rmdepth_ros.model.rmdepth import RMDepth

    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    metadata = read_metadata(path)
    try:
        tensors = load_file(str(path), device='cpu')
    except Exception as error:
        raise WeightsError(_unreadable(path, error)) from None
    if content_hash(tensors) != metadata['content_sha256']:
        raise WeightsError(f'{path}: content hash mismatch, the file is corrupt or was edited')
    model = RMDepth(metadata['config'])
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise WeightsError(f'{path}: architecture mismatch: {_describe(missing, "missing")}'
                           f'{"; " if missing and unexpected else ""}'
                           f'{_describe(unexpected, "unexpected")}')
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise WeightsError(f'{path}: architecture mismatch: {name} has shape '
                               f'{tuple(tensor.shape)} in the file, the model expects '
                               f'{tuple(expected[name].shape)}')
    converted = {name: tensor.to(expected[name].dtype) for name, tensor in tensors.items()}
    model.load_state_dict(converted, strict=True)
    model.eval()
    return model.to(device), metadata


def _check_file(path: Path) -> None:
    if not path.exists():
        raise WeightsError(f'weights file not found: {path}')
    if not path.is_file():
        raise WeightsError(f'weights path is not a file: {path}')


def _unreadable(path: Path, error: Exception) -> str:
    detail = str(error).splitlines()[0] if str(error) else type(error).__name__
    size = path.stat().st_size if path.exists() else 0
    if size < 8:
        return f'{path}: not a weights file (only {size} bytes)'
    with open(path, 'rb') as handle:
        header_len = int.from_bytes(handle.read(8), 'little')
    if header_len > size - 8 or header_len > 100_000_000:
        return f'{path}: not a weights file (no safetensors header)'
    return f'{path}: truncated or corrupt weights file ({detail})'


def _decode_metadata(path: Path, raw: dict[str, str]) -> dict[str, Any]:
    if raw.get('format') != FORMAT:
        raise WeightsError(f'{path}: not an rmdepth_ros weights file (safetensors without '
                           f'rmdepth metadata)')
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise WeightsError(f'{path}: weights metadata lacks {", ".join(missing)}')
    if raw['format_version'] != FORMAT_VERSION:
        raise WeightsError(f'{path}: weights format version {raw["format_version"]} is not '
                           f'supported (this rmdepth_ros reads version {FORMAT_VERSION})')
    try:
        config = RMDepthConfig.from_dict(json.loads(raw['config']))
        width, height = (int(v) for v in json.loads(raw['input_size']))
        scale = json.loads(raw.get('scale', '{}'))
    except (ValueError, TypeError) as error:
        raise WeightsError(f'{path}: invalid weights metadata: {error}') from None
    metadata: dict[str, Any] = dict(raw)
    metadata.update(config=config, input_size=(width, height), scale=scale,
                    model_id=raw['content_sha256'][:12], path=str(path))
    return metadata


def _describe(keys: list[str], what: str) -> str:
    if not keys:
        return ''
    shown = ', '.join(keys[:3]) + (', ...' if len(keys) > 3 else '')
    return f'{len(keys)} {what} tensors ({shown})'


def main(argv: list[str] | None = None) -> int:
    """`rmdepth-weights info FILE` and `rmdepth-weights init --out FILE`."""
    parser = argparse.ArgumentParser(prog='rmdepth-weights',
                                     description='Inspect or create rmdepth_ros weights files.')
    sub = parser.add_subparsers(dest='command', required=True)
    info = sub.add_parser('info', help="print a weights file's metadata")
    info.add_argument('file', nargs='?', default=None,
                      help='weights file (default: the shipped weights)')
    info.add_argument('--json', action='store_true', help='print one JSON object')
    init = sub.add_parser('init', help='write randomly initialised (untrained) weights')
    init.add_argument('--out', required=True)
    init.add_argument('--seed', type=int, default=0)
    init.add_argument('--size', default='640x192', help='input size WxH (default 640x192)')
    args = parser.parse_args(argv)
    try:
        if args.command == 'init':
            from rmdepth_ros.model.rmdepth import RMDepth

            width, height = _parse_size(args.size)
            torch.manual_seed(args.seed)
            config = RMDepthConfig()
            digest = save_weights(args.out, RMDepth(config), config, (width, height),
                                  notes=f'random initialisation, seed {args.seed}')
            print(f'wrote untrained weights {args.out} (model id {digest[:12]})')
            return 0
        metadata = read_metadata(args.file if args.file else DEFAULT_WEIGHTS)
    except WeightsError as error:
        print(f'rmdepth-weights: {error}', file=sys.stderr)
        return 1
    shown = {key: value for key, value in metadata.items() if key != 'config'}
    shown['config'] = metadata['config'].to_dict()
    shown['input_size'] = list(metadata['input_size'])
    if args.json:
        print(json.dumps(shown, sort_keys=True))
    else:
        for key in sorted(shown):
            print(f'{key:>16}: {shown[key]}')
    return 0


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise WeightsError(f'size must be WIDTHxHEIGHT, got {text!r}') from None
    return width, height


if __name__ == '__main__':
    sys.exit(main())
