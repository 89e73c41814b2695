"""Checkpoints with exact resume: model, optimiser, scheduler, AMP scaler, RNG states, position.

A checkpoint is RUN/checkpoints/step_NNNNNNN.pt with the resolved config beside it as
step_NNNNNNN.yaml (and inside it). The data position is the optimiser step: the stream of
samples is a pure function of (seed, sample number), see `datasets`. Checkpoints are trusted
files of our own run (they hold optimiser state and RNG states, not only tensors).
"""

from __future__ import annotations

from pathlib import Path
import random
from typing import Any

import numpy as np
import torch

from rmdepth_training.config import TrainConfig, save_config, to_dict


def rng_state() -> dict[str, Any]:
    """Every random generator the training process draws from."""
    state = {'torch': torch.get_rng_state(), 'numpy': np.random.get_state(),
             'python': random.getstate()}
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state['torch'])
    np.random.set_state(state['numpy'])
    random.setstate(state['python'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return run_dir / 'checkpoints' / f'step_{step:07d}.pt'


def save_checkpoint(run_dir: Path, step: int, config: TrainConfig, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any,
                    rng_states: list[dict[str, Any]], keep: int) -> Path:
    """Write the checkpoint of `step` (steps completed) and its config; prune old ones.

    rng_states: one entry per process (rank order), so every process resumes its own stream.
    """
    path = checkpoint_path(run_dir, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        'step': step,
        'config': to_dict(config),
        'model': model.state_dict(),
        'optimizer': optimizer.state_dict(),
        'scheduler': scheduler.state_dict(),
        'scaler': scaler.state_dict() if scaler is not None else None,
        'rng': rng_states,
    }
    tmp = path.with_suffix('.pt.tmp')
    torch.save(payload, tmp)
    tmp.replace(path)  # atomic: a crash never leaves a half-written checkpoint under the name
    save_config(config, path.with_suffix('.yaml'))
    for old in sorted(path.parent.glob('step_*.pt'))[:-keep] if keep > 0 else []:
        old.unlink()
        old.with_suffix('.yaml').unlink(missing_ok=True)
    return path


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest step_*.pt of a run, or None."""
    found = sorted((Path(run_dir) / 'checkpoints').glob('step_*.pt'))
    return found[-1] if found else None


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint` (on the CPU)."""
    # weights_only=False: RNG states are numpy / python objects; the file is our own.
    return torch.load(path, map_location='cpu', weights_only=False)
