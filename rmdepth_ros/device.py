"""Where and in which precision the networks run: the device and precision options.

No ROS here; used by `inference.Estimator` and the evaluation tools.
"""

from __future__ import annotations

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
            raise ValueError(f"device '{device}' requested but CUDA is not available")
        index = int(device[5:]) if ':' in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(f"device '{device}' requested but only "
                             f'{torch.cuda.device_count()} CUDA device(s) exist')
        return torch.device(device)
    raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got '{device}'")
