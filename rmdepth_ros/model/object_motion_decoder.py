"""One level of the coarse-to-fine object-motion decoder (spec section 3.3, Eq. 11)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rmdepth_ros.model.config import RMDepthConfig
from rmdepth_ros.model.layers import conv

# Li et al. 2020 style learnable output scale: starts small so that object motion begins near
# zero, and is floored so that it can never switch the decoder off.
_SCALE_INIT = 0.01
_SCALE_FLOOR = 0.001


class ObjectMotionDecoder(nn.Module):
    """Predicts a 3-channel translation field (T_obj, or its residual) at one level.

    concat(encoder feature, coarser T_obj upsampled x2 [3 ch]) -> conv3x3 x2 (cfg.object_channels)
    -> conv3x3 to 3 channels, no activation -> x learnable scale. The coarsest level has no
    coarser field (`with_prior=False`) and sees the encoder feature alone.
    """

    def __init__(self, cfg: RMDepthConfig, feature_channels: int, with_prior: bool) -> None:
        super().__init__()
        c1, c2 = cfg.object_channels
        self.with_prior = with_prior
        c_in = feature_channels + (3 if with_prior else 0)
        self.convs = nn.Sequential(conv(c_in, c1), conv(c1, c2), conv(c2, 3, activation=False))
        self.scale = nn.Parameter(torch.tensor(_SCALE_INIT))

    def output_scale(self) -> Tensor:
        """The learnable scale, floored at 0.001 in value.

        The floor is applied with a straight-through gradient: a plain clamp would give zero
        gradient once the parameter drifts below the floor and freeze it there for good.
        """
        return self.scale + (self.scale.clamp(min=_SCALE_FLOOR) - self.scale).detach()

    def forward(self, feature: Tensor, prior: Tensor | None = None) -> Tensor:
        """feature: (B, C, h, w); prior: coarser T_obj upsampled to (B, 3, h, w), metres.

        Returns (B, 3, h, w): T_obj at the coarsest level, else the residual to add to `prior`.
        """
        if self.with_prior != (prior is not None):
            raise ValueError('prior must be given exactly when the decoder was built with_prior')
        x = feature if prior is None else torch.cat([feature, prior], dim=1)
        return self.convs(x) * self.output_scale()
