"""Inference precision: the choices, and what 'auto' becomes on each device.

'auto' is fp32 on the CPU and for the ONNX backends (they run float32). With backend 'torch'
on CUDA it is the precision in cuda_defaults.json beside this file: the fastest precision whose
outputs stayed within tolerance of CPU fp32 in bench/bench_gpu.py, which rewrites the file
(`--update-defaults`). Until a GPU has been measured the file says fp32 and `"measured": false`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

PRECISIONS = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}
PRECISION_CHOICES = ('auto', *PRECISIONS)
CUDA_DEFAULTS_FILE = Path(__file__).with_name('cuda_defaults.json')


def cuda_defaults(path: str | os.PathLike = CUDA_DEFAULTS_FILE) -> dict:
    """The CUDA defaults file as a dict; ValueError (one line) when it is unreadable or wrong."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f'{path}: cannot read the CUDA defaults ({error})') from None
    if not isinstance(data, dict) or data.get('precision') not in PRECISIONS:
        raise ValueError(f"{path}: 'precision' must be one of {', '.join(PRECISIONS)}")
    return data


def resolve_precision(precision: str, device: torch.device, backend: str = 'torch',
                      defaults: str | os.PathLike = CUDA_DEFAULTS_FILE) -> str:
    """`precision` with 'auto' made concrete for `device` and `backend` (see the module)."""
    if precision not in PRECISION_CHOICES:
        raise ValueError(f"precision must be one of {', '.join(PRECISION_CHOICES)}, "
                         f"got '{precision}'")
    if precision != 'auto':
        return precision
    if device.type != 'cuda' or backend != 'torch':
        return 'fp32'
    return cuda_defaults(defaults)['precision']
