"""What a benchmark ran on: the device, its driver, the library versions, numeric settings.

For the JSON of bench/bench_gpu.py; works on a machine without CUDA (device 'cpu').
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import subprocess

import numpy as np
import torch


def describe_environment(device: torch.device) -> dict:
    """Device, driver and library versions, and the numeric settings in force."""
    info: dict = {'device_type': device.type, 'cpu': platform.processor() or platform.machine(),
                  'cpu_count': os.cpu_count(), 'threads': torch.get_num_threads()}
    if device.type == 'cuda':
        props = torch.cuda.get_device_properties(device)
        info.update(name=props.name, capability=f'{props.major}.{props.minor}',
                    memory_gib=round(props.total_memory / 2**30, 1),
                    multiprocessors=props.multi_processor_count, driver=_driver_version())
    else:
        info['name'] = f"cpu ({info['cpu']})"
    versions = {'python': platform.python_version(), 'torch': torch.__version__,
                'cuda': torch.version.cuda, 'cudnn': torch.backends.cudnn.version(),
                'numpy': np.__version__}
    for package in ('cv2', 'triton', 'onnxruntime'):
        if importlib.util.find_spec(package) is not None:
            versions[package] = getattr(__import__(package), '__version__', 'unknown')
    settings = {'cudnn_benchmark': torch.backends.cudnn.benchmark,
                'cudnn_allow_tf32': torch.backends.cudnn.allow_tf32,
                'matmul_allow_tf32': torch.backends.cuda.matmul.allow_tf32}
    return {'device': info, 'versions': versions, 'settings': settings}


def _driver_version() -> str | None:
    if shutil.which('nvidia-smi') is None:
        return None
    try:
        result = subprocess.run(['nvidia-smi', '--query-gpu=driver_version', '--format=csv,'
                                 'noheader'], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip().splitlines()[0] if result.stdout.strip() else None
