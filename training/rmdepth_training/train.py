"""The training loop: data -> model -> losses -> backward -> step -> log -> validate -> checkpoint.

One function, `train`, reads top to bottom. Single process by default; under torchrun every
process runs it with PyTorch DDP (NCCL on CUDA, gloo on CPU). Everything it writes goes to
RUN = out_dir/name: config.yaml, checkpoints/step_N.pt (+ step_N.yaml), tensorboard/ (or
scalars.jsonl), validation.jsonl, summary.json.
"""

from __future__ import annotations

from collections import Counter
import json
from pathlib import Path
import time
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from rmdepth_ros.inference import Estimator
from rmdepth_ros.model.encoder import load_torchvision_resnet18
from rmdepth_ros.model.geometry import motion_mask, optical_flow
from rmdepth_ros.model.pose_decoder import add_coord_inputs
from rmdepth_ros.model.rmdepth import RMDepth
from rmdepth_ros.model.weights import load_weights
from rmdepth_training import distributed
from rmdepth_training.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from rmdepth_training.config import ConfigError, TrainConfig, save_config
from rmdepth_training.datasets import build_train_loader, steps_per_epoch, validation_sequences
from rmdepth_training.evaluation import evaluate_sequences
from rmdepth_training.interrupt import StopRequest
from rmdepth_training.logs import RunLogger, image_panels
from rmdepth_training.starting_weights import StartingWeightsError, check_architecture
from rmdepth_training.step import build_optimizer, train_step
from rmdepth_training.training_model import TrainingModel


def train(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train until cfg.optim.max_steps; resume=True continues from RUN's newest checkpoint.

    Returns a summary (rank 0's view): final step, last logged scalars, last validation, wall
    time, seconds per step, and the per-step losses of this invocation ('losses', for tests).
    """
    # -- processes, device, precision ----------------------------------------------------------
    device = _device(cfg.device)
    dist_info = distributed.setup(device.type)
    if device.type == 'cuda':
        device = torch.device('cuda', dist_info.local_rank)
        torch.cuda.set_device(device)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    amp_dtype = _amp_dtype(cfg.amp, device)
    run_dir = cfg.run_dir

    # -- model, optimiser, schedule ------------------------------------------------------------
    torch.manual_seed(cfg.seed)
    model = RMDepth(cfg.model)
    if cfg.motion_init == 'default':
        model.motion_net.reset_parameters('pytorch')  # the model itself builds it He-initialised
    if cfg.pretrained_encoder:
        load_torchvision_resnet18(model.depth_net.encoder, cfg.pretrained_encoder)
    if cfg.init_weights and not resume:
        start, metadata = load_weights(cfg.init_weights)
        old = metadata['config']
        # Pose-decoder gains and coordinate inputs may change: both keep the starting function.
        # RMU iteration counts may change too: the weights are shared across a level's
        # iterations, so the same tensors run fewer or more of them (a light configuration).
        try:
            check_architecture(old, cfg.model, cfg.init_weights)
        except StartingWeightsError as error:
            raise ConfigError(str(error)) from None
        state = start.state_dict()
        if cfg.model.pose_coords and not old.pose_coords:
            state = add_coord_inputs(state, 'motion_net.pose_decoder.')
        model.load_state_dict(state, strict=True)
        # New pose-decoder output gains keep the starting function (see PoseDecoder).
        model.motion_net.pose_decoder.adopt_gains(old.pose_rotation_scale,
                                                  old.pose_translation_scale)
    model.to(device).train()
    net: torch.nn.Module = TrainingModel(model, amp_dtype)
    if dist_info.enabled:
        if device.type == 'cuda':
            # Batch statistics over the global batch, as a single process would compute them.
            net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
        # The object-motion decoders sit idle during the burn-in (and the cycle pass uses only
        # part of the motion net), so the set of parameters with gradients changes over time.
        net = DistributedDataParallel(net, device_ids=[device.index] if device.index is not None
                                      else None, find_unused_parameters=True)
    optimizer = build_optimizer(model, cfg.optim)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(cfg.optim.lr_milestones), gamma=cfg.optim.lr_gamma)
    scaler = torch.amp.GradScaler('cuda') if amp_dtype == torch.float16 else None

    step = 0
    if resume:
        path = latest_checkpoint(run_dir)
        if path is None:
            raise ConfigError(f'{run_dir}: no checkpoint to resume from')
        state = load_checkpoint(path)
        model.load_state_dict(state['model'])
        optimizer.load_state_dict(state['optimizer'])
        scheduler.load_state_dict(state['scheduler'])
        # The schedule is the config's, not the checkpoint's: milestones and gamma given when
        # resuming (e.g. a longer run once its speed is known) take effect.
        scheduler.milestones = Counter(cfg.optim.lr_milestones)
        scheduler.gamma = cfg.optim.lr_gamma
        if scaler is not None and state['scaler'] is not None:
            scaler.load_state_dict(state['scaler'])
        if len(state['rng']) != dist_info.world_size:
            raise ConfigError(f'{path}: saved by {len(state["rng"])} processes, resumed with '
                              f'{dist_info.world_size}; resume with the same process count')
        set_rng_state(state['rng'][dist_info.rank])
        step = state['step']
    elif dist_info.is_main:
        if latest_checkpoint(run_dir) is not None:
            raise ConfigError(f'{run_dir} already has checkpoints: resume it (--resume) or pick '
                              'another name=')
        save_config(cfg, run_dir / 'config.yaml')

    # -- data ----------------------------------------------------------------------------------
    loader, source = build_train_loader(cfg, step, dist_info.rank, dist_info.world_size)
    epoch_steps = steps_per_epoch(cfg, source)
    val_every = cfg.log.val_every or epoch_steps
    val_data = []
    if dist_info.is_main and cfg.data.val_sequences > 0:
        val_data = validation_sequences(cfg.data.width, cfg.data.height, cfg.data.val_sequences,
                                        cfg.data.val_frames)
    logger = RunLogger(run_dir, enabled=dist_info.is_main)
    progress = _progress(cfg, step, dist_info.is_main)
    if dist_info.is_main:
        print(f'rmdepth-train: {run_dir}: {source.description}; {dist_info.world_size} '
              f'process(es) on {device}, amp {amp_dtype}, steps {step} -> {cfg.optim.max_steps}, '
              f'{epoch_steps} steps/epoch', flush=True)

    # -- the loop ------------------------------------------------------------------------------
    summary: dict[str, Any] = {'losses': [], 'validation': None}
    start_time = last_time = time.perf_counter()
    start_step = last_step = step
    batches = iter(loader)
    budget_s = cfg.optim.max_minutes * 60.0
    out_of_time = interrupted = False
    with StopRequest() as stop:  # Ctrl-C: finish the step, checkpoint it, stop
        while step < cfg.optim.max_steps and not (out_of_time or interrupted):
            batch = next(batches)
            done = train_step(net, model, optimizer, scaler, batch, step, cfg, device)
            images, K, outputs, result = done.images, done.K, done.outputs, done.result
            scheduler.step()
            step += 1
            summary['losses'].append(float(result.total.detach()))
            if budget_s > 0:
                # Every process must stop at the same step: rank 0's clock decides.
                out_of_time = distributed.broadcast_flag(
                    dist_info, time.perf_counter() - start_time > budget_s)
            # Ctrl-C: every process stops after the same step, with a checkpoint of it.
            interrupted = distributed.broadcast_flag(dist_info, stop.requested)
            last = step == cfg.optim.max_steps or out_of_time or interrupted

            # -- log ------------------------------------------------------------------------------
            if step % cfg.log.log_every == 0 or last:
                scalars = distributed.mean_scalars(dist_info, result.parts)
                now = time.perf_counter()
                scalars['samples_per_s'] = ((step - last_step) * cfg.optim.batch_size
                                            / max(now - last_time, 1e-9))
                scalars['lr'] = scheduler.get_last_lr()[0]
                scalars['object_motion_scale'] = done.motion_scale
                last_time, last_step = now, step
                logger.scalars(step, scalars)
                summary['scalars'] = scalars
                if progress is not None:
                    progress.set_postfix(loss=f'{scalars["loss"]:.4f}',
                                         img_s=f'{scalars["samples_per_s"]:.2f}', refresh=False)
            if progress is not None:
                progress.update(1)
            if (dist_info.is_main and cfg.log.image_every
                    and (step % cfg.log.image_every == 0 or step == 1)):
                logger.images(step, _panels(images, outputs, result, K))

            # -- validate (rank 0; the others wait at the barrier) --------------------------------
            if (step % val_every == 0 or last) and val_data:
                metrics = validate(model, val_data, cfg, device)
                logger.validation(step, metrics)
                summary['validation'] = {'step': step, **metrics}
                if progress is not None:
                    progress.write(f'step {step}: validation abs_rel {metrics["abs_rel"]:.4f} '
                                   f'rmse {metrics["rmse"]:.3f} a1 {metrics["a1"]:.3f}'
                                   + (f' flow_epe {metrics["flow_epe"]:.3f}'
                                      if 'flow_epe' in metrics else ''))
            # -- checkpoint -----------------------------------------------------------------------
            if step % cfg.log.checkpoint_every == 0 or last:
                states = distributed.gather_objects(dist_info, rng_state())
                if dist_info.is_main:
                    save_checkpoint(run_dir, step, cfg, model, optimizer, scheduler, scaler,
                                    states, cfg.log.keep_checkpoints)
                distributed.barrier(dist_info)

    # -- done ----------------------------------------------------------------------------------
    elapsed = time.perf_counter() - start_time
    if interrupted and dist_info.is_main:
        print(f'rmdepth-train: interrupted at step {step} of {cfg.optim.max_steps}; its '
              f'checkpoint is written: --resume {run_dir} continues', flush=True)
    elif out_of_time and dist_info.is_main:
        print(f'rmdepth-train: stopped at step {step} of {cfg.optim.max_steps}: the '
              f'{cfg.optim.max_minutes:g}-minute budget (optim.max_minutes) is spent; '
              f'--resume {run_dir} continues', flush=True)
    summary.update(step=step, wall_s=elapsed, stopped_by_budget=out_of_time,
                   interrupted=interrupted,
                   s_per_step=elapsed / max(step - start_step, 1))
    if progress is not None:
        progress.close()
    if dist_info.is_main:
        record = {k: v for k, v in summary.items() if k != 'losses'}
        (run_dir / 'summary.json').write_text(json.dumps(record, indent=2) + '\n')
    logger.close()
    distributed.cleanup(dist_info)
    return summary


def validate(model: RMDepth, sequences: list, cfg: TrainConfig,
             device: torch.device) -> dict[str, float]:
    """Depth, motion, flow and mask metrics on held-out synthetic sequences (evaluation mode)."""
    estimator = Estimator(model=model, metadata={'input_size': (cfg.data.width,
                                                                 cfg.data.height)},
                          device=str(device), output='network')
    try:
        return evaluate_sequences(estimator, sequences)
    finally:
        model.train()


def _panels(images: torch.Tensor, outputs: dict, result: Any, K: torch.Tensor) -> dict:
    """Image panels of the batch's first sample (flow and mask towards the previous frame)."""
    with torch.no_grad():
        depth = outputs['depth'][:1].float()
        flow, valid = optical_flow(depth, K[:1].float(), outputs['T'][:1, 0].float(),
                                   outputs['object_motion'][:1, 0].float())
        moving = motion_mask(outputs['object_motion'][:1, 0].float(), depth, K[:1].float(),
                             outputs['T'][:1, 0].float())
    return image_panels(images[0], outputs['disp'][0][0], flow[0], valid[0], moving[0],
                        result.visuals['automask'][0])


def _device(name: str) -> torch.device:
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    device = torch.device(name)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise ConfigError(f"device '{name}' requested but CUDA is not available")
    return device


def _amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    if amp == 'off' or (amp == 'auto' and device.type != 'cuda'):
        return None
    if device.type != 'cuda':
        raise ConfigError(f"amp '{amp}' needs CUDA; use amp=off (or auto) on the CPU")
    if amp == 'fp16' or (amp == 'auto' and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16


def _progress(cfg: TrainConfig, step: int, is_main: bool):
    if not (is_main and cfg.log.progress):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=cfg.optim.max_steps, initial=step, unit='step', dynamic_ncols=True,
                mininterval=5.0)


def run_dir_config(run_dir: Path) -> Path:
    """The resolved config file of a run folder."""
    return Path(run_dir) / 'config.yaml'
