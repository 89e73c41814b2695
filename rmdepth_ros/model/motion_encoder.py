"""Shared 3-level feature encoder of the motion network (spec sections 3.2 and 3.3)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rmdepth_ros.model.config import RMDepthConfig
from rmdepth_ros.model.layers import conv

# Fixed input normalisation (the model owns it): roughly zero-mean, unit-variance RGB.
_MEAN = 0.45
_STD = 0.225


class MotionEncoder(nn.Module):
    """Encodes a frame pair into features at 1/2, 1/4 and 1/8 resolution.

    Level 1 (1/2): conv7x7 s2 6->c1, conv3x3 c1->c1; level 2 (1/4): conv3x3 s2 c1->c2, conv3x3;
    level 3 (1/8): conv3x3 s2 c2->c3, conv3x3; widths (c1, c2, c3) = cfg.motion_channels,
    LeakyReLU 0.1, no normalisation layers. The same weights serve every pass of the motion
    network (pose, and each re-warped object-motion level), each pass only as deep as it needs.
    """

    def __init__(self, cfg: RMDepthConfig) -> None:
        super().__init__()
        c1, c2, c3 = cfg.motion_channels
        self.num_channels = (c1, c2, c3)
        self.levels = nn.ModuleList([
            nn.Sequential(conv(6, c1, 7, stride=2), conv(c1, c1)),
            nn.Sequential(conv(c1, c2, stride=2), conv(c2, c2)),
            nn.Sequential(conv(c2, c3, stride=2), conv(c3, c3)),
        ])

    def forward(self, target: Tensor, source: Tensor, num_levels: int = 3) -> list[Tensor]:
        """Features of levels 1..num_levels, finest first.

        target, source: (B, 3, H, W) RGB in [0, 1], H and W multiples of 8 (checked by the
        caller). Level l has shape (B, c_l, H / 2^l, W / 2^l).
        """
        if not 1 <= num_levels <= len(self.levels):
            raise ValueError(f'num_levels must be in 1..{len(self.levels)}, got {num_levels}')
        x = (torch.cat([target, source], dim=1) - _MEAN) / _STD  # (B, 6, H, W)
        features = []
        for level in self.levels[:num_levels]:
            x = level(x)
            features.append(x)
        return features
