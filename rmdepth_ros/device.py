"""Where and in which precision the networks run: the device and precision options.

No ROS here; used by `inference.Estimator` and the evaluation tools.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

#: precision option -> the autocast dtype ('fp32' runs without autocast).
PRECISIONS = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}


def select_device(device: str) -> torch.device:
    """'auto' -> cuda if available else cpu; 'cpu', 'cuda', 'cuda:N' checked for availability."""
    if device == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if device == 'cpu':
        return torch.device('cpu')
    if device == 'cuda' or (device.startswith('cuda:') and device[5:].isdigit()):
        if not torch.cuda.is_available():
            build = ('this PyTorch is a CPU build; see requirements-gpu.txt'
                     if torch.version.cuda is None else 'no GPU or driver found')
            raise ValueError(f"device '{device}' requested but CUDA is not available ({build})")
        index = int(device[5:]) if ':' in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(f"device '{device}' requested but only "
                             f'{torch.cuda.device_count()} CUDA device(s) exist')
        return torch.device(device)
    raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got '{device}'")


#: The precision option's values: 'auto' or one of PRECISIONS.
PRECISION_CHOICES = ('auto', *PRECISIONS)
#: What 'auto' means with backend 'torch' on CUDA; bench/bench_gpu.py --update-defaults writes it.
CUDA_DEFAULTS_FILE = Path(__file__).with_name('cuda_defaults.json')
#: The runner variants (rmdepth_ros.backends.torch_variants) the defaults file may name; not
#: torch.compile, which would take minutes at every start.
CUDA_DEFAULT_VARIANTS = ('eager', 'channels_last', 'cuda_graph', 'channels_last+cuda_graph')


def cuda_defaults(path: str | os.PathLike = CUDA_DEFAULTS_FILE) -> dict:
    """The CUDA defaults file as a dict; ValueError (one line) when it is unreadable or wrong."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f'{path}: cannot read the CUDA defaults ({error})') from None
    if not isinstance(data, dict) or data.get('precision') not in PRECISIONS:
        raise ValueError(f"{path}: 'precision' must be one of {', '.join(PRECISIONS)}")
    if data.setdefault('variant', 'eager') not in CUDA_DEFAULT_VARIANTS:
        raise ValueError(f"{path}: 'variant' must be one of {', '.join(CUDA_DEFAULT_VARIANTS)}")
    return data


def resolve_precision(precision: str, device: torch.device, backend: str = 'torch',
                      defaults: str | os.PathLike = CUDA_DEFAULTS_FILE) -> str:
    """`precision` with 'auto' made concrete: fp32 on the CPU and for the ONNX backends (they
    run float32); with backend 'torch' on CUDA, the precision of the `defaults` file (the
    fastest within tolerance of CPU fp32 where a GPU was measured; docs/gpu.md)."""
    if precision not in PRECISION_CHOICES:
        raise ValueError(f"precision must be one of {', '.join(PRECISION_CHOICES)}, "
                         f"got '{precision}'")
    if precision != 'auto':
        return precision
    if device.type != 'cuda' or backend != 'torch':
        return 'fp32'
    return cuda_defaults(defaults)['precision']


def cuda_runner_variant(device: torch.device, backend: str = 'torch',
                        defaults: str | os.PathLike = CUDA_DEFAULTS_FILE) -> str:
    """How the Estimator runs PyTorch's networks: 'eager' on the CPU and for the ONNX backends;
    with backend 'torch' on CUDA, the `defaults` file's variant (absent: 'eager')."""
    if device.type != 'cuda' or backend != 'torch':
        return 'eager'
    return cuda_defaults(defaults)['variant']
