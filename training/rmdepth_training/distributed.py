"""Process-group set-up for PyTorch DDP under torchrun (or any launcher that sets the env vars).

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; without them training
runs as a single process. NCCL on CUDA, gloo on CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from typing import Any

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device_kind: str) -> DistInfo:
    """Initialise the default process group when launched with several processes."""
    world_size = int(os.environ.get('WORLD_SIZE', '1'))
    if world_size <= 1:
        return DistInfo()
    info = DistInfo(rank=int(os.environ['RANK']), world_size=world_size,
                    local_rank=int(os.environ.get('LOCAL_RANK', '0')))
    if not dist.is_initialized():
        backend = 'nccl' if device_kind == 'cuda' else 'gloo'
        dist.init_process_group(backend=backend)
    return info


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def gather_objects(info: DistInfo, obj: Any) -> list[Any]:
    """[obj of rank 0, obj of rank 1, ...] on every process (a list of one without DDP)."""
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def mean_scalars(info: DistInfo, values: dict[str, torch.Tensor]) -> dict[str, float]:
    """Average logged scalars over processes (one all-reduce)."""
    keys = sorted(values)
    stacked = torch.stack([values[k].detach().float().reshape(()) for k in keys])
    if info.enabled:
        if dist.get_backend() == 'nccl':
            stacked = stacked.cuda()
        dist.all_reduce(stacked)
        stacked = stacked / info.world_size
    return dict(zip(keys, stacked.cpu().tolist(), strict=True))


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def broadcast_flag(info: DistInfo, flag: bool) -> bool:
    """Rank 0's flag on every process (the flag itself without DDP)."""
    if not info.enabled:
        return flag
    value = torch.tensor([1.0 if flag else 0.0])
    if dist.get_backend() == 'nccl':
        value = value.cuda()
    dist.broadcast(value, src=0)
    return bool(value.item() > 0)
