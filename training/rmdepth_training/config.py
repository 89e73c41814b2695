"""Training configuration: typed dataclasses, YAML files, checked key=value overrides.

Resolution order: dataclass defaults <- YAML file (`--config`) <- `section.key=value` overrides on
the command line. Every key is checked against the dataclasses: an unknown key or a value of the
wrong type raises `ConfigError` with one line naming the key. The resolved config is written as
YAML beside every checkpoint, and `load_config` reads it back unchanged.

The `model` section is the architecture dataclass `rmdepth_ros.model.config.RMDepthConfig`
itself (one model definition); a YAML file lists only what differs from its defaults.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
import difflib
import os
from pathlib import Path
import types
import typing
from typing import Any, Union

import yaml

from rmdepth_ros.model.config import RMDepthConfig
from rmdepth_ros.synth.config import LOOKS, MOTIONS


class ConfigError(ValueError):
    """A bad configuration; the message is one line naming the key and the problem."""


@dataclass
class DataConfig:
    """What to train on. Sizes in pixels; the network input is width x height (multiples of 8).

    kind: 'synthetic' (streamed street world), 'kitti' (KITTI raw + split file), 'cityscapes'
      (leftImg8bit_sequence + camera/), 'bag' (ROS 2 bags).
    root: dataset root (KITTI raw folder with the date folders, or the Cityscapes root).
    split: KITTI split file, lines '2011_09_26/2011_09_26_drive_0001_sync 5 l'; Cityscapes:
      the subset name ('train').
    bags: ROS 2 bag paths (folders or .mcap / .db3 files) for kind 'bag'.
    image_topic, camera_info_topic: bag topics; empty = detect the only image topic.
    frame_step: frames between the target and each source (1 = consecutive frames).
    static_threshold: bags: a triplet is skipped when the mean absolute difference (in [0, 1]
      intensity) between the target and either source is below this (near-static camera).
    synth_frames: frames per generated synthetic sequence; every training sample is a triplet of
      a fresh sequence with its own seed.
    val_sequences, val_frames: held-out synthetic sequences (seeds below
      `datasets.TRAIN_SEED_OFFSET`, never used for training) for the per-epoch validation.
    epoch_samples: samples in one "epoch" of an endless stream (synthetic); finite datasets
      use their length.
    num_workers: DataLoader worker processes (0 = load in the training process).
    synth_motion: camera motion of the synthetic world: 'drive' (forward along the road),
      'diverse' (a style per sequence: turns, stops, reversing, shake, standing camera) or one
      style of `rmdepth_ros.synth.agile.STYLES` (`SynthConfig.motion`).
    frame_step_max: synthetic: the step between frames is drawn from [frame_step,
      frame_step_max] per sample (speed diversity).
    static_prob: synthetic: probability that the earlier source is the target frame itself
      (an exactly standing camera: identity motion, zero flow).
    reverse_prob: synthetic: probability that the triplet is played backwards (reversing).
    real_sequences: folders or bags of real video (anything `rmdepth_ros.open_sequence` reads)
      mixed into a synthetic run; no ground truth is used from them.
    real_fraction: probability that a sample comes from real_sequences.
    real_labels: one `rmdepth-train label` folder per entry of real_sequences (same order), or
      none: their pseudo-labels feed the depth loss `loss.pseudo_depth` (`pseudo_labels.py`).
    synth_look: appearance of the synthetic world, 'classic' or 'photo' (`SynthConfig.look`);
      the held-out validation sequences stay 'classic'.
    shards: pre-rendered synthetic shards (`shards.py`) mixed into a synthetic run;
    shard_fraction: probability that a sample is cut from them instead of rendered live.
    """

    kind: str = 'synthetic'
    width: int = 640
    height: int = 192
    root: str = ''
    split: str = ''
    bags: tuple[str, ...] = ()
    image_topic: str = ''
    camera_info_topic: str = ''
    frame_step: int = 1
    static_threshold: float = 0.01
    synth_frames: int = 3
    val_sequences: int = 4
    val_frames: int = 8
    epoch_samples: int = 4000
    num_workers: int = 2
    synth_motion: str = 'drive'
    frame_step_max: int = 0
    static_prob: float = 0.0
    reverse_prob: float = 0.0
    real_sequences: tuple[str, ...] = ()
    real_fraction: float = 0.0
    real_labels: tuple[str, ...] = ()
    synth_look: str = 'classic'
    shards: tuple[str, ...] = ()
    shard_fraction: float = 0.0


@dataclass
class AugmentConfig:
    """Training augmentation (spec 4.3); the same draw applies to all frames of a triplet.

    flip_prob: horizontal flip, with the intrinsics flipped too (cx' = W - 1 - cx).
    jitter_prob: colour jitter; the networks see jittered frames, the losses the originals.
    brightness, contrast, saturation: factors drawn from [1 - x, 1 + x]; hue: shift in
    [-hue, hue] turns of the colour wheel.
    aspect_prob: probability that a global batch is trained at a random aspect ratio (0 = off,
      the default): one ratio per batch, log-uniform in [aspect_min, aspect_max] (width /
      height), at the network size of the estimator's `resize: native` (multiples of 8, about
      data.width x data.height pixels); each sample a random window of that ratio whose side
      is a fraction in [aspect_min_scale, 1] of the largest one (`aspect.py`).
    """

    flip_prob: float = 0.5
    jitter_prob: float = 0.5
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    hue: float = 0.1
    aspect_prob: float = 0.0
    aspect_min: float = 1.2
    aspect_max: float = 3.6
    aspect_min_scale: float = 0.6


@dataclass
class OptimConfig:
    """Adam with a step schedule (spec 4.3). Steps count optimiser updates.

    batch_size: the global batch (all processes together); it must divide by the number of
      processes. lr_milestones: steps at which the learning rate is multiplied by lr_gamma.
    grad_clip: max global gradient norm, 0 = off.
    pose_lr_scale: learning-rate multiplier of the pose decoder. Its output is scaled by 0.01
      (Monodepth2), so under Adam the translation grows ~100x slower than its gradient asks;
      long runs grow out of it, short runs stall with a constant, near-zero camera motion
      and a depth scale pinned against min_depth.
    motion_lr_scale: learning-rate multiplier of the rest of the motion network (encoder and
      object-motion decoders): fine-tuning it faster than the depth network lets the camera
      motion learn to look at the images within a CPU budget.
    max_minutes: wall-clock budget of one invocation (0 = none): the run stops after the first
      step that ends past it and saves a checkpoint there, for machines booked for a fixed
      time. The schedule still counts steps, so size max_steps and the milestones to fit.
    """

    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    batch_size: int = 12
    max_steps: int = 66360
    lr_milestones: tuple[int, ...] = (49770,)
    lr_gamma: float = 0.1
    grad_clip: float = 0.0
    pose_lr_scale: float = 1.0
    motion_lr_scale: float = 1.0
    max_minutes: float = 0.0


@dataclass
class LossConfig:
    """Loss terms and weights (spec 3.5, 4.2, 4.3).

    scales: how many of the depth net's outputs (full resolution first) enter the loss; each is
      upsampled to full resolution before warping.
    automask: Monodepth2 auto-masking (un-warped sources join the per-pixel minimum).
    smoothness_weight: edge-aware smoothness of mean-normalised disparity, divided by 2^scale.
    object_burn_in, object_ramp: steps with object motion off (depth + camera motion only), then
      steps of a linear ramp of MotionNet's object_motion_scale from 0 to 1.
    object_reg: 'outlier_aware' (spec 3.5 default), 'sparsity' (Li et al., ablation), 'none'.
    object_reg_weight: weight of the rigid-region suppression (or of the sparsity loss).
    object_tv_weight: weight of the edge-aware TV of the normalised object motion.
    object_reg_margin: delta of the outlier test as a fraction of the mean rigid error.
    object_reg_eps: Charbonnier epsilon on |T_obj| / mean depth.
    cycle_rotation_weight, cycle_translation_weight: optional camera-motion cycle consistency
      (0 = off; Li et al. use 1e-3 and 5e-2). With temporal_order it constrains the earlier
      sources only (a later source's motion already is the inverse of a reversed pair).
    temporal_order: feed the motion net every pair with the later frame as its target, as at
      run time, inverting the camera motion of later sources (Monodepth2); object motion then
      comes from earlier sources only. False: (target, source) for every source.
    supervised: weight of the supervised warm-start terms on samples with exact ground truth
      (the synthetic world; `supervised.py`), 0 = the paper's self-supervised recipe only.
    pseudo_depth: weight of the confidence-weighted scale-invariant depth loss on the
      pseudo-labels of real video (`pseudo_labels.py`, data.real_labels); 0 = off.
    sup_*_weight: the terms inside it: depth (scale-invariant log), rotation (radians),
      translation (L1, metres), flow (EPE, pixels), object motion (L1, metres).
    """

    scales: int = 4
    automask: bool = True
    smoothness_weight: float = 1e-3
    object_burn_in: int = 20000
    object_ramp: int = 10000
    object_reg: str = 'outlier_aware'
    object_reg_weight: float = 0.2
    object_tv_weight: float = 1e-2
    object_reg_margin: float = 0.01
    object_reg_eps: float = 1e-3
    cycle_rotation_weight: float = 0.0
    cycle_translation_weight: float = 0.0
    temporal_order: bool = True
    supervised: float = 0.0
    pseudo_depth: float = 0.0
    sup_depth_weight: float = 1.0
    sup_rotation_weight: float = 10.0
    sup_translation_weight: float = 1.0
    sup_flow_weight: float = 0.02
    sup_object_weight: float = 0.1


@dataclass
class LogConfig:
    """Progress, logs, validation and checkpoints; every period is in optimiser steps.

    val_every: 0 = once per epoch. image_every: TensorBoard image panels (0 = off).
    keep_checkpoints: how many step checkpoints to keep (the newest).
    progress: show a tqdm progress bar (rank 0 only).
    """

    log_every: int = 20
    image_every: int = 500
    val_every: int = 0
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    progress: bool = True


@dataclass
class TrainConfig:
    """One training run. Written to RUN/config.yaml and beside every checkpoint.

    name: run folder name under out_dir. seed: everything random (data stream, augmentation,
      initialisation) derives from it. device: 'auto', 'cpu', 'cuda' (torchrun picks the GPU).
    amp: 'auto' (bf16 autocast on CUDA when supported, else fp16, off on CPU), 'off', 'bf16',
      'fp16'. threads: torch CPU threads per process (0 = leave torch's default).
    pretrained_encoder: optional torchvision resnet18 state-dict file for the depth encoder
      (spec default B wants ImageNet weights; nothing is downloaded).
    init_weights: optional rmdepth_ros weights file to start from (fine-tuning, e.g. the shipped
      default on your own bags). The model section then starts from the file's architecture:
      the keys a config sets change it, and only `starting_weights.CHANGEABLE` may.
    motion_init: 'he' trains the motion network from the model's own He init; 'default'
      re-initialises its convolutions with PyTorch's default init, for comparison (with it the
      pose head starts input-blind and learns a constant; `MotionNet.reset_parameters`).
    """

    name: str = 'run'
    out_dir: str = 'runs'
    seed: int = 0
    device: str = 'auto'
    amp: str = 'auto'
    threads: int = 0
    pretrained_encoder: str = ''
    init_weights: str = ''
    motion_init: str = 'he'
    model: RMDepthConfig = field(default_factory=RMDepthConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    log: LogConfig = field(default_factory=LogConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name


_CHOICES = {
    'data.kind': ('synthetic', 'kitti', 'cityscapes', 'bag'),
    'data.synth_motion': MOTIONS,
    'data.synth_look': LOOKS,
    'amp': ('auto', 'off', 'bf16', 'fp16'),
    'motion_init': ('he', 'default'),
    'loss.object_reg': ('outlier_aware', 'sparsity', 'none'),
}


# -- building ------------------------------------------------------------------------------------

def build_config(path: str | os.PathLike | None = None,
                 overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Defaults <- YAML file at `path` (if given) <- 'section.key=value' overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        values = _read_yaml(Path(path))
    flat = _flatten(values)
    for item in overrides:
        key, sep, raw = item.partition('=')
        if not sep or not key.strip():
            raise ConfigError(f'override {item!r} is not of the form key=value '
                              f'(e.g. optim.lr=2e-4)')
        flat[key.strip()] = _parse_cli_value(raw)
    return from_flat(flat)


def load_config(path: str | os.PathLike) -> TrainConfig:
    """Read a resolved config written by `save_config` (or any config YAML)."""
    return build_config(path)


def save_config(config: TrainConfig, path: str | os.PathLike) -> None:
    """Write the complete, resolved config as YAML (every key, defaults included)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(to_dict(config), sort_keys=False, default_flow_style=None)
    tmp = path.with_suffix(path.suffix + '.tmp')
    tmp.write_text(text)
    tmp.replace(path)


def to_dict(config: Any) -> dict[str, Any]:
    """Nested plain dict (tuples become lists) of a config dataclass."""
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = to_dict(value)
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out


def from_flat(flat: dict[str, Any]) -> TrainConfig:
    """TrainConfig from {'section.key': value}; every key and type is checked."""
    known = _known_keys(TrainConfig)
    sections: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for key, value in flat.items():
        if key not in known:
            raise ConfigError(_unknown_key_message(key, known))
        converted = _convert(key, value, known[key])
        if key in _CHOICES and converted not in _CHOICES[key]:
            raise ConfigError(f"config key '{key}': must be one of "
                              f"{', '.join(_CHOICES[key])}, got {converted!r}")
        section, _, name = key.rpartition('.')
        if section:
            sections.setdefault(section, {})[name] = converted
        else:
            top[name] = converted
    if top.get('init_weights'):
        top['model'] = _starting_model(top['init_weights'], sections.pop('model', {}))
    hints = typing.get_type_hints(TrainConfig)
    for section, kwargs in sections.items():
        try:
            top[section] = hints[section](**kwargs)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"config section '{section}': {error}") from None
    config = TrainConfig(**top)
    validate(config)
    return config


def _starting_model(path: str, given: dict[str, Any]) -> RMDepthConfig:
    """The model section of a run that starts from the weights file at `path`: the file's
    architecture with the keys `given` in the config changed (rmdepth_training.starting_weights).
    A config that gives every key (e.g. one saved beside a checkpoint) is taken as it is."""
    from rmdepth_training.starting_weights import (
        StartingWeightsError,
        check_architecture,
        weights_architecture,
    )

    if set(given) == {f.name for f in dataclasses.fields(RMDepthConfig)}:
        return RMDepthConfig(**given)
    try:
        start = weights_architecture(path)
        model = dataclasses.replace(start, **given)
        check_architecture(start, model, path)
    except (StartingWeightsError, TypeError, ValueError) as error:
        raise ConfigError(str(error)) from None
    return model


def validate(config: TrainConfig) -> None:
    """Cross-field checks that a type alone cannot express."""
    data, optim = config.data, config.optim
    if data.width % 8 or data.height % 8 or data.width < 16 or data.height < 16:
        raise ConfigError(f'data.width and data.height must be multiples of 8 (at least 16), '
                          f'got {data.width}x{data.height}')
    positive = {'optim.batch_size': optim.batch_size, 'optim.max_steps': optim.max_steps,
                'data.frame_step': data.frame_step, 'data.epoch_samples': data.epoch_samples,
                'loss.scales': config.loss.scales, 'log.log_every': config.log.log_every,
                'log.checkpoint_every': config.log.checkpoint_every,
                'data.synth_frames': data.synth_frames}
    for key, value in positive.items():
        if value < 1:
            raise ConfigError(f"config key '{key}': must be at least 1, got {value}")
    if not 1 <= config.loss.scales <= 4:
        raise ConfigError(f"config key 'loss.scales': must be in 1..4, got {config.loss.scales}")
    if data.synth_frames < 2 * data.frame_step + 1:
        raise ConfigError(f"config key 'data.synth_frames': a triplet with frame_step "
                          f'{data.frame_step} needs at least {2 * data.frame_step + 1} frames')
    for key in ('static_prob', 'reverse_prob', 'real_fraction', 'shard_fraction'):
        value = getattr(data, key)
        if not 0 <= value <= 1:
            raise ConfigError(f"config key 'data.{key}': must be in [0, 1], got {value}")
    if data.frame_step_max and data.frame_step_max < data.frame_step:
        raise ConfigError(f"config key 'data.frame_step_max': must be 0 or at least "
                          f'data.frame_step ({data.frame_step}), got {data.frame_step_max}')
    if data.synth_frames < 2 * max(data.frame_step, data.frame_step_max) + 1:
        raise ConfigError("config key 'data.synth_frames': too short for data.frame_step_max "
                          f'{data.frame_step_max}')
    if data.real_fraction > 0 and not data.real_sequences:
        raise ConfigError("config key 'data.real_fraction': needs data.real_sequences")
    if data.real_labels and len(data.real_labels) != len(data.real_sequences):
        raise ConfigError(f"config key 'data.real_labels': one label folder per entry of "
                          f'data.real_sequences ({len(data.real_sequences)}), got '
                          f'{len(data.real_labels)}')
    if config.loss.pseudo_depth > 0 and not data.real_labels:
        raise ConfigError("config key 'loss.pseudo_depth': needs data.real_labels "
                          '(make them with rmdepth-train label)')
    if data.shard_fraction > 0 and not data.shards:
        raise ConfigError("config key 'data.shard_fraction': needs data.shards")
    if optim.lr <= 0:
        raise ConfigError(f"config key 'optim.lr': must be positive, got {optim.lr}")
    if optim.max_minutes < 0:
        raise ConfigError(f"config key 'optim.max_minutes': must be 0 (no limit) or positive, "
                          f'got {optim.max_minutes}')
    for key in ('flip_prob', 'jitter_prob', 'aspect_prob'):
        value = getattr(config.augment, key)
        if not 0 <= value <= 1:
            raise ConfigError(f"config key 'augment.{key}': must be in [0, 1], got {value}")
    augment = config.augment
    if not 0 < augment.aspect_min <= augment.aspect_max:
        raise ConfigError(f"config keys 'augment.aspect_min' / 'aspect_max': need 0 < min <= "
                          f'max, got {augment.aspect_min} and {augment.aspect_max}')
    if not 0 < augment.aspect_min_scale <= 1:
        raise ConfigError(f"config key 'augment.aspect_min_scale': must be in (0, 1], got "
                          f'{augment.aspect_min_scale}')
    if data.kind == 'kitti' and not (data.root and data.split):
        raise ConfigError("data.kind 'kitti' needs data.root (KITTI raw) and data.split "
                          '(split file)')
    if data.kind == 'cityscapes' and not data.root:
        raise ConfigError("data.kind 'cityscapes' needs data.root (the Cityscapes folder)")
    if data.kind == 'bag' and not data.bags:
        raise ConfigError("data.kind 'bag' needs data.bags (one or more bag paths)")


# -- helpers -------------------------------------------------------------------------------------

def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f'config file not found: {path}')
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        first = str(error).splitlines()[0]
        raise ConfigError(f'{path}: not valid YAML ({first})') from None
    if not isinstance(values, dict):
        raise ConfigError(f'{path}: expected a mapping of config sections at the top level')
    return values


def _flatten(values: dict[str, Any], prefix: str = '') -> dict[str, Any]:
    """{'optim': {'lr': 1}} -> {'optim.lr': 1}; a dict is a section only where one is expected."""
    flat: dict[str, Any] = {}
    sections = {name for name, hint in typing.get_type_hints(TrainConfig).items()
                if dataclasses.is_dataclass(hint)}
    for key, value in values.items():
        name = f'{prefix}{key}'
        if not prefix and key in sections and isinstance(value, dict):
            flat.update(_flatten(value, prefix=f'{name}.'))
        else:
            flat[name] = value
    return flat


def _known_keys(cls: type) -> dict[str, Any]:
    """{'section.key': type} for every leaf field of TrainConfig."""
    keys: dict[str, Any] = {}
    for name, hint in typing.get_type_hints(cls).items():
        if dataclasses.is_dataclass(hint):
            for sub, sub_hint in typing.get_type_hints(hint).items():
                keys[f'{name}.{sub}'] = sub_hint
        else:
            keys[name] = hint
    return keys


def _unknown_key_message(key: str, known: dict[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ''
    return f"unknown config key '{key}'{hint}"


def _parse_cli_value(raw: str) -> Any:
    """A command-line value: YAML syntax ('[1, 2]', 'true', 'null'), else the plain string."""
    try:
        return yaml.safe_load(raw) if raw.strip() else ''
    except yaml.YAMLError:
        return raw


def _convert(key: str, value: Any, hint: Any) -> Any:
    """Check (and where lossless, convert) value to the type `hint`; ConfigError otherwise."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ('none', 'null')):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        return _convert(key, value, inner[0])
    if origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.replace('(', '').replace(')', '').split(',') if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(_type_message(key, value, hint))
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(key, v, args[0]) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"config key '{key}': expected {len(args)} values, "
                              f'got {len(value)} ({value!r})')
        return tuple(_convert(key, v, a) for v, a in zip(value, args, strict=True))
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ('true', 'false'):
            return value.lower() == 'true'
        raise ConfigError(_type_message(key, value, hint))
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(_type_message(key, value, hint))
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # PyYAML reads '1e-4' as a string
            except ValueError:
                pass
        raise ConfigError(_type_message(key, value, hint))
    if hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(_type_message(key, value, hint))
    raise ConfigError(f"config key '{key}': unsupported type {hint}")


def _type_message(key: str, value: Any, hint: Any) -> str:
    name = getattr(hint, '__name__', None) or str(hint).replace('typing.', '')
    return f"config key '{key}': expected {name}, got {value!r}"
