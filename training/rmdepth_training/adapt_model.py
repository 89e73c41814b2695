"""What adapts to a user's camera, and one adaptation update: shared by `rmdepth-train adapt`
(offline) and the node's online adaptation (`adapt_online`).

Adaptation trains the depth network only, on the self-supervised photometric objective of
training (`criterion.compute_losses`), with the motion network frozen: its camera motion is
used as it is, without gradients, so camera motion (and the odometry built on it) is exactly
the shipped network's. Measured reason (issue 18): training both networks on KITTI 00 frames
improved depth but made the 5-frame snippet ATE worse (0.0319 -> 0.0357 m).

Parts that may train (`PARTS`): 'depth' (encoder and decoder), 'decoder' (the encoder frozen,
its batch-norm statistics included). Batch norm statistics of a trained encoder follow the
user's images (train mode), which is part of adapting to a new camera.
"""

from __future__ import annotations

import copy
import dataclasses

import torch

from rmdepth_ros.model.rmdepth import RMDepth
from rmdepth_training.config import LossConfig, TrainConfig
from rmdepth_training.criterion import compute_losses
from rmdepth_training.pseudo_labels import pseudo_label_loss
from rmdepth_training.step import train_step
from rmdepth_training.training_model import TrainingModel

PARTS = ('depth', 'decoder')
#: 'frozen': the motion network's camera motion is used as it is (no gradients);
#: 'helper': a private copy of the motion network trains along with the depth network (the
#: co-adaptation that plain fine-tuning has), but it is never used for inference or saved:
#: adapted weights carry the starting motion network, so camera motion stays exactly the same.
MOTION_MODES = ('frozen', 'helper')


def adaptation_config(base: TrainConfig | None = None, lr: float = 1e-4,
                      supervised: float = 1.0, pseudo_depth: float = 0.0) -> TrainConfig:
    """The TrainConfig of adaptation updates: no object-motion regulariser (the motion net is
    frozen, nothing would learn from it), object motion at full scale, no cycle terms, the
    supervised terms at `supervised` (they act on synthetic replay samples only), the
    pseudo-label depth loss at `pseudo_depth` (on the camera's frames that carry labels)."""
    cfg = base or TrainConfig()
    loss = dataclasses.replace(cfg.loss, object_reg='none', object_burn_in=0, object_ramp=0,
                               cycle_rotation_weight=0.0, cycle_translation_weight=0.0,
                               supervised=supervised, pseudo_depth=pseudo_depth)
    optim = dataclasses.replace(cfg.optim, lr=lr, grad_clip=1.0)
    return dataclasses.replace(cfg, loss=loss, optim=optim)


def trained_modules(model: RMDepth, part: str, motion: str) -> list[torch.nn.Module]:
    """The modules that train for `part` (PARTS) and `motion` (MOTION_MODES)."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}, got '{part}'")
    if motion not in MOTION_MODES:
        raise ValueError(f"motion must be one of {', '.join(MOTION_MODES)}, got '{motion}'")
    modules = [model.depth_net if part == 'depth' else model.depth_net.decoder]
    return modules + ([model.motion_net] if motion == 'helper' else [])


def trainable_parameters(model: RMDepth, part: str, motion: str = 'frozen'
                         ) -> list[torch.nn.Parameter]:
    """Switch requires_grad so that only what trains does; returns its parameters."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    params = []
    for module in trained_modules(model, part, motion):
        for parameter in module.parameters():
            parameter.requires_grad_(True)
            params.append(parameter)
    return params


class Adapter:
    """A private copy of the model and its optimiser; `step(batch)` takes one update.

    model: the starting network (copied; the caller's is never modified). batch: the
    training loop's dict (keys in datasets.py; 'gt_*' needed when cfg.loss.supervised > 0).
    anchor: after every update each adapted weight moves this share of the way back to its
    starting value (an L2-SP pull towards the start, decoupled from Adam's scaling as AdamW
    decouples weight decay; 0 = none): what the camera's frames do not keep pulling on returns.
    """

    def __init__(self, model: RMDepth, cfg: TrainConfig, part: str = 'depth',
                 device: torch.device | str = 'cpu', motion: str = 'frozen',
                 anchor: float = 0.0) -> None:
        self.device = torch.device(device)
        self.cfg = cfg
        self.part = part
        self.motion = motion
        self.model = copy.deepcopy(model).to(self.device)
        self.params = trainable_parameters(self.model, part, motion)
        self.net = TrainingModel(self.model, frozen_motion=motion == 'frozen')
        self.optimizer = torch.optim.Adam(self.params, lr=cfg.optim.lr, betas=cfg.optim.betas)
        self.steps = 0
        if not 0 <= anchor < 1:
            raise ValueError(f'adapt_anchor must be in [0, 1), got {anchor}')
        self.anchor = float(anchor)
        self._start = [p.detach().clone() for p in self.params] if anchor > 0 else []

    def train_mode(self) -> None:
        """Train mode for what adapts; everything frozen stays in eval mode (fixed statistics)."""
        self.model.eval()
        for module in trained_modules(self.model, self.part, self.motion):
            module.train()

    def step(self, batch: dict) -> float:
        """One optimiser update; returns the loss. Raises FloatingPointError on a non-finite
        loss (the model is then unchanged)."""
        self.train_mode()
        done = train_step(self.net, self.model, self.optimizer, None, batch, self.steps,
                          self.cfg, self.device)
        if self.anchor > 0:
            with torch.no_grad():
                for param, start in zip(self.params, self._start, strict=True):
                    param.lerp_(start, self.anchor)
        self.steps += 1
        return float(done.result.total.detach())

    def adapted(self, start: RMDepth) -> RMDepth:
        """What adaptation produces: a copy of `start` with the adapted depth network (the
        motion network stays `start`'s, whatever trained as a helper)."""
        out = copy.deepcopy(start).cpu()
        out.depth_net.load_state_dict(self.model.depth_net.state_dict())
        return out.eval()

    def score(self, batch: dict) -> float:
        """The validation score of the current weights on `batch`, eval mode without
        augmentation: the photometric error, plus the pseudo-label depth loss at its training
        weight where the batch carries labels (`validation_score`)."""
        return validation_score(self.net, batch, self.cfg.loss, self.device)

    def state(self) -> dict[str, torch.Tensor]:
        """A detached copy of the training model's state (depth and motion networks)."""
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def restore(self, state: dict[str, torch.Tensor]) -> None:
        """Back to `state` (from `state()`), with a fresh optimiser (its moments belong to the
        abandoned trajectory)."""
        self.model.load_state_dict(state)
        self.optimizer = torch.optim.Adam(self.params, lr=self.cfg.optim.lr,
                                          betas=self.cfg.optim.betas)


def validation_score(net: TrainingModel, batch: dict, loss: LossConfig,
                     device: torch.device) -> float:
    """What adaptation validates on: the mean photometric error (the loss's min-reprojection
    term, all scales) of `net` on `batch` ('images', 'K', 'index'), plus loss.pseudo_depth x the
    pseudo-label depth loss where the batch has 'pl_depth' / 'pl_weight' (the two terms that
    learn from the camera's frames; eval mode, no grad).

    The un-augmented frames go to the networks; auto-masking noise is seeded by 'index', so the
    same batch scores the same for the same weights."""
    was_training = net.model.training
    net.model.eval()
    try:
        with torch.no_grad():
            images = batch['images'].to(device)
            K = batch['K'].to(device)
            outputs = net(images, K, 1.0)
            result = compute_losses(outputs, images, K, loss, net.model.config.min_depth,
                                    net.model.config.max_depth, 1.0, batch['index'])
            score = float(result.parts['photometric'])
            if loss.pseudo_depth > 0 and 'pl_weight' in batch:
                score += loss.pseudo_depth * float(pseudo_label_loss(
                    outputs['depth'].float(), batch['pl_depth'].to(device),
                    batch['pl_weight'].to(device)))
        return score
    finally:
        net.model.train(was_training)
