"""The RM-Depth decoder: recurrent modulation at L4, L3, L2 and sigmoid disparity heads.

Layout (spec sections 2.3 and 2.6), levels named as in LiteFlowNet (L1 = full resolution,
L(k) at 1/2^(k-1)), encoder features (E2, E3, E4) at 1/2, 1/4, 1/8:

  h = tanh(conv3x3(E4))                              Eq. 6: start from the top encoder feature
  L4 (1/8): h = RMU4(h, E4) x iterations[0]           weights shared within a level
  h = tanh(RU(conv1x1(h)))                           level transition, width C_h(L4) -> C_h(L3)
  L3 (1/4): h = RMU3(h, E3) x iterations[1]
  h = tanh(RU(conv1x1(h)))
  L2 (1/2): h = RMU2(h, E2) x iterations[2]
  L1 (1/1): g = LeakyReLU(RU(conv1x1(h)))            cfg.head_channels wide, no encoder feature
  each level's final state -> conv3x3 -> sigmoid      Eq. 7: disparity read from the hidden state

RU is residual upsampling (or bilinear + conv3x3 with cfg.residual_upsampling False). With
cfg.use_rmu False each level fuses once by concat + conv (Eq. 3) and cfg.iterations is unused.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
import torch.nn.functional as F

from rmdepth_ros.model.config import RMDepthConfig
from rmdepth_ros.model.layers import conv
from rmdepth_ros.model.residual_upsampling import build_upsampling
from rmdepth_ros.model.rmu import ConcatFusion, RecurrentModulationUnit


class LevelTransition(nn.Module):
    """Carry the hidden state one level finer: conv1x1 (width change) -> x2 upsample.

    The 1x1 conv comes first so the (costlier) upsampler runs at the smaller output width.
    Shapes: (B, C_in, H, W) -> (B, C_out, 2H, 2W), no activation (the caller chooses it).
    """

    def __init__(self, in_channels: int, out_channels: int, residual_upsampling: bool) -> None:
        super().__init__()
        self.project = conv(in_channels, out_channels, kernel_size=1, activation=False)
        self.upsample = build_upsampling(out_channels, residual_upsampling)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.project(x))


class DepthDecoder(nn.Module):
    """Hidden-state decoder producing sigmoid disparities at four scales.

    Args:
      cfg: architecture; uses hidden_channels, head_channels, iterations, use_rmu,
        use_modulation and residual_upsampling.
      encoder_channels: channels of the encoder features (E2, E3, E4) at 1/2, 1/4, 1/8.

    forward(features) with features = (E2, E3, E4) for an (H, W) input returns four sigmoid maps
    in (0, 1), full resolution first: (B, 1, H, W), (B, 1, H/2, W/2), (B, 1, H/4, W/4),
    (B, 1, H/8, W/8).
    """

    def __init__(self, cfg: RMDepthConfig, encoder_channels: Sequence[int]) -> None:
        super().__init__()
        if len(encoder_channels) != 3:
            raise ValueError(f'the decoder needs three encoder levels (1/2, 1/4, 1/8), '
                             f'got channels {tuple(encoder_channels)}')
        self.cfg = cfg
        # Coarse to fine from here on: index 0 = L4 (1/8), 1 = L3 (1/4), 2 = L2 (1/2).
        feature_channels = tuple(encoder_channels)[::-1]
        hidden = cfg.hidden_channels
        self.init_hidden = conv(feature_channels[0], hidden[0], activation=False)
        self.cells = nn.ModuleList(
            RecurrentModulationUnit(f, h, modulation=cfg.use_modulation) if cfg.use_rmu
            else ConcatFusion(f, h)
            for f, h in zip(feature_channels, hidden, strict=True))
        self.transitions = nn.ModuleList(
            LevelTransition(hidden[i], hidden[i + 1], cfg.residual_upsampling) for i in range(2))
        self.full_res = LevelTransition(hidden[2], cfg.head_channels, cfg.residual_upsampling)
        # One head per scale, in output order: L1 (full), L2, L3, L4.
        head_inputs = (cfg.head_channels, hidden[2], hidden[1], hidden[0])
        self.heads = nn.ModuleList(conv(c, 1, activation=False) for c in head_inputs)

    def forward(self, features: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        e2, e3, e4 = features
        level_features = (e4, e3, e2)
        # A fused decoder runs each level once; the RMU recurrence runs cfg.iterations times.
        iterations = self.cfg.iterations if self.cfg.use_rmu else (1, 1, 1)

        hidden = torch.tanh(self.init_hidden(e4))  # (B, C_h(L4), H/8, W/8)
        states = []  # final hidden state per level, coarse to fine
        for level, (cell, feature) in enumerate(zip(self.cells, level_features, strict=True)):
            if level > 0:
                hidden = torch.tanh(self.transitions[level - 1](hidden))
            for _ in range(iterations[level]):
                hidden = cell(hidden, feature)
            states.append(hidden)

        full = F.leaky_relu(self.full_res(states[-1]), 0.1)  # (B, head_channels, H, W)
        head_inputs = (full, states[2], states[1], states[0])
        return tuple(torch.sigmoid(head(x)) for head, x in
                     zip(self.heads, head_inputs, strict=True))
