"""`rmdepth-train export RUN`: a run's checkpoint -> a weights file in the rmdepth_ros format.

The file (rmdepth_ros.model.weights) carries the architecture, the input size, what the weights
were trained on, their licence, and notes with the training length and the last validation
numbers measured by the run (RUN/validation.jsonl).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from rmdepth_ros.model.rmdepth import RMDepth
from rmdepth_ros.model.weights import read_metadata, save_weights
from rmdepth_training.checkpoint import latest_checkpoint, load_checkpoint
from rmdepth_training.config import ConfigError, TrainConfig, from_flat, to_dict
from rmdepth_training.datasets import TRAIN_SEED_OFFSET

# Licence of weights trained on each kind of data. KITTI and Cityscapes forbid commercial use,
# and weights trained on them are treated as carrying those terms.
LICENCES = {
    'synthetic': 'Apache-2.0',
    'kitti': 'CC BY-NC-SA 3.0 (trained on KITTI raw; non-commercial, attribute KITTI)',
    'cityscapes': 'Cityscapes licence terms (trained on Cityscapes; non-commercial)',
    'bag': 'set by the owner of the training bags',
}
DTYPES = {'float32': torch.float32, 'float16': torch.float16, 'bfloat16': torch.bfloat16}


def trained_on(cfg: TrainConfig, steps: int) -> str:
    """One line describing the training data and length (and, where the starting weights file
    is still there, what it was trained on: the lineage)."""
    data = cfg.data
    samples = steps * cfg.optim.batch_size
    where = {
        'synthetic': f'rmdepth_ros synthetic street world (streamed; seeds >= {TRAIN_SEED_OFFSET},'
                     f' {data.synth_frames}-frame sequences, camera motion {data.synth_motion!r})',
        'kitti': f'KITTI raw, split {Path(data.split).name}',
        'cityscapes': f'Cityscapes leftImg8bit_sequence/{data.split or "train"}',
        'bag': f'ROS 2 bags: {", ".join(Path(b).name for b in data.bags)}',
    }[data.kind]
    if data.kind == 'synthetic' and data.synth_look != 'classic':
        where = where[:-1] + f', look {data.synth_look!r})'
    if data.kind == 'synthetic' and data.shards and data.shard_fraction > 0:
        where += f' ({data.shard_fraction:.0%} of it cut from pre-rendered shards)'
    if data.real_fraction > 0 and data.real_sequences:
        names = ', '.join(Path(p).name for p in data.real_sequences)
        where += f' + {data.real_fraction:.0%} real video ({names}, self-supervised)'
    labels = ('supervised warm start on the synthetic ground truth (weight '
              f'{cfg.loss.supervised:g}) + self-supervised' if cfg.loss.supervised > 0
              else 'self-supervised (no labels)')
    text = (f'{where}; {data.width}x{data.height}; {steps} steps x batch '
            f'{cfg.optim.batch_size} = {samples} triplets; {labels}')
    if cfg.init_weights:
        text += f'; started from {Path(cfg.init_weights).name}'
        try:
            earlier = read_metadata(cfg.init_weights)['trained_on']
        except Exception:  # the starting file moved or is unreadable: its name must do
            earlier = ''
        if earlier:
            text += f' [{earlier}]'
    return text


def export(run_dir: str | Path, out: str | Path | None = None,
           checkpoint: str | Path | None = None, dtype: str = 'float16',
           notes: str = '') -> dict:
    """Write the weights of `checkpoint` (default: the run's newest) to `out`.

    out: default RUN/weights.safetensors. dtype: storage type of float tensors.
    Returns {'path', 'model_id', 'bytes', 'step', 'validation'}.
    """
    run_dir = Path(run_dir)
    path = Path(checkpoint) if checkpoint else latest_checkpoint(run_dir)
    if path is None or not path.is_file():
        raise ConfigError(f'{run_dir}: no checkpoint to export (checkpoints/step_*.pt)')
    if dtype not in DTYPES:
        raise ConfigError(f'dtype must be one of {", ".join(DTYPES)}, got {dtype!r}')
    state = load_checkpoint(path)
    cfg = _config(state['config'])
    model = RMDepth(cfg.model)
    model.load_state_dict(state['model'], strict=True)
    validation = _validation_at(run_dir, state['step'])
    text = [f'exported from {run_dir.name} step {state["step"]} of {cfg.optim.max_steps}']
    if validation:
        shown = ', '.join(f'{k} {v:.4f}' for k, v in validation.items()
                          if k not in ('step', 'images'))
        text.append(f'validation on held-out synthetic sequences at {cfg.data.width}x'
                    f'{cfg.data.height} (median-scaled depth; step {validation["step"]}): '
                    f'{shown}')
    if notes:
        text.append(notes)
    training = {'config': to_dict(cfg), 'step': state['step']}
    out = Path(out) if out else run_dir / 'weights.safetensors'
    digest = save_weights(out, model, cfg.model, (cfg.data.width, cfg.data.height),
                          trained_on=trained_on(cfg, state['step']),
                          license=LICENCES[cfg.data.kind],
                          notes='; '.join(text) + '; training config: ' + json.dumps(training),
                          dtype=DTYPES[dtype])
    return {'path': str(out), 'model_id': digest[:12], 'bytes': out.stat().st_size,
            'step': state['step'], 'validation': validation}


def _config(values: dict) -> TrainConfig:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update({f'{key}.{k}': v for k, v in value.items()})
        else:
            flat[key] = value
    return from_flat(flat)


def _validation_at(run_dir: Path, step: int) -> dict | None:
    """The last validation record at or before `step`, or None."""
    path = run_dir / 'validation.jsonl'
    if not path.is_file():
        return None
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    records = [r for r in records if r['step'] <= step]
    return records[-1] if records else None
