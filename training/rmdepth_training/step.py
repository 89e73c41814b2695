"""One optimiser update, shared by the training loop and bench/bench_training.py.

`train.py` owns the run (processes, data, schedule, logs, checkpoints); this module owns what
happens to one batch: forward -> losses (+ the supervised terms) -> backward -> (clip) -> Adam
step, and the Adam parameter groups it steps.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from rmdepth_ros.model.rmdepth import RMDepth
from rmdepth_training.config import OptimConfig, TrainConfig
from rmdepth_training.criterion import LossResult, compute_losses, object_motion_scale
from rmdepth_training.pseudo_labels import pseudo_label_loss
from rmdepth_training.supervised import GT_KEYS, supervised_losses


def build_optimizer(model: RMDepth, cfg: OptimConfig) -> torch.optim.Adam:
    """Adam over `model` with the pose decoder at lr * pose_lr_scale (`param_groups`)."""
    groups = param_groups(model, cfg.lr, cfg.pose_lr_scale, cfg.motion_lr_scale)
    return torch.optim.Adam(groups, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


def param_groups(model: RMDepth, lr: float, pose_lr_scale: float,
                 motion_lr_scale: float = 1.0) -> list[dict]:
    """Adam parameter groups: the pose decoder at lr * pose_lr_scale, the rest of the motion
    network at lr * motion_lr_scale (a group of its own only when that is not 1), the depth
    network at lr."""
    pose = list(model.motion_net.pose_decoder.parameters())
    pose_ids = {id(p) for p in pose}
    motion = [p for p in model.motion_net.parameters() if id(p) not in pose_ids]
    if motion_lr_scale == 1.0:
        motion = []
    taken = pose_ids | {id(p) for p in motion}
    rest = [p for p in model.parameters() if id(p) not in taken]
    groups = [{'params': rest, 'lr': lr}, {'params': pose, 'lr': lr * pose_lr_scale}]
    if motion:
        groups.append({'params': motion, 'lr': lr * motion_lr_scale})
    return groups


class StepResult(NamedTuple):
    """What one optimiser update leaves for logging (tensors on the training device)."""

    images: torch.Tensor  # (B, 3, 3, H, W) the loss frames
    K: torch.Tensor  # (B, 3, 3)
    outputs: dict  # TrainingModel's outputs
    result: LossResult  # total, parts, visuals (supervised terms included)
    motion_scale: float  # the object-motion ramp at this step


def train_step(net: torch.nn.Module, model: RMDepth, optimizer: torch.optim.Optimizer,
               scaler: torch.amp.GradScaler | None, batch: dict, step: int, cfg: TrainConfig,
               device: torch.device) -> StepResult:
    """One optimiser update on one batch: forward -> losses -> backward -> (clip) -> step.

    net: the TrainingModel around `model` (DDP-wrapped or not); batch: the loader's dict (keys
    in datasets.py); step: the updates done so far (it sets the object-motion ramp). The
    learning-rate schedule is the caller's. bench/bench_training.py times exactly this.
    """
    images = batch['images'].to(device, non_blocking=True)  # (B, 3, 3, H, W) for losses
    images_aug = batch['images_aug'].to(device, non_blocking=True)  # networks' input
    K = batch['K'].to(device, non_blocking=True)  # (B, 3, 3)
    motion_scale = object_motion_scale(step, cfg.loss.object_burn_in, cfg.loss.object_ramp)
    use_cycle = cfg.loss.cycle_rotation_weight > 0 or cfg.loss.cycle_translation_weight > 0

    outputs = net(images_aug, K, motion_scale, cycle=use_cycle,
                  temporal_order=cfg.loss.temporal_order)
    result = compute_losses(outputs, images, K, cfg.loss, cfg.model.min_depth,
                            cfg.model.max_depth, motion_scale, batch['index'])
    if cfg.loss.supervised > 0:
        truth = {key: batch[key].to(device, non_blocking=True) for key in GT_KEYS}
        supervised, sup_parts = supervised_losses(outputs, truth, K, cfg.loss)
        result.total = result.total + supervised
        result.parts.update(sup_parts)
        result.parts['loss'] = result.total.detach()
    if cfg.loss.pseudo_depth > 0:
        pseudo = pseudo_label_loss(outputs['depth'].float(),
                                   batch['pl_depth'].to(device, non_blocking=True),
                                   batch['pl_weight'].to(device, non_blocking=True))
        result.total = result.total + cfg.loss.pseudo_depth * pseudo
        result.parts['pseudo_depth'] = pseudo.detach()
        result.parts['loss'] = result.total.detach()
    if not torch.isfinite(result.total):
        raise FloatingPointError(f'step {step}: loss is {result.total.item()}; '
                                 f'parts {_floats(result.parts)}')

    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(result.total).backward()
        scaler.unscale_(optimizer)
    else:
        result.total.backward()
    if cfg.optim.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return StepResult(images, K, outputs, result, motion_scale)


def _floats(values: dict[str, torch.Tensor]) -> dict[str, float]:
    return {k: round(float(v), 5) for k, v in values.items()}
