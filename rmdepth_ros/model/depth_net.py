"""The RM-Depth depth network: single RGB image -> multi-scale disparity and metric-scale depth.

Encoder (ResNet-18 to layer2, or the pyramid ablation) + RMU decoder; 2,976,764 parameters at
the default configuration (the paper states 2.97 M). `disp_to_depth` is the one place where the
network's sigmoid output becomes depth.
"""

from __future__ import annotations

import torch
from torch import nn

from rmdepth_ros.model.config import RMDepthConfig
from rmdepth_ros.model.depth_decoder import DepthDecoder
from rmdepth_ros.model.encoder import build_encoder

# The encoder downsamples three times by 2; other sizes would misalign the skip features.
SIZE_MULTIPLE = 8


def disp_to_depth(sigmoid: torch.Tensor, min_depth: float,
                  max_depth: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Map a sigmoid output in [0, 1] to (scaled disparity, depth), as in Monodepth2.

    disp = 1/max_depth + (1/min_depth - 1/max_depth) * sigmoid, depth = 1/disp, so sigmoid 0 is
    max_depth and sigmoid 1 is min_depth. Disparity is in 1/metres and depth in metres (up to the
    unknown global scale of self-supervised training); both have the input's shape.
    """
    min_disp = 1.0 / max_depth
    max_disp = 1.0 / min_depth
    scaled_disp = min_disp + (max_disp - min_disp) * sigmoid
    return scaled_disp, 1.0 / scaled_disp


class DepthNet(nn.Module):
    """Monocular depth network of RM-Depth.

    forward(image) with image (B, 3, H, W), float RGB in [0, 1], H and W multiples of 8, returns
      'disp': tuple of four sigmoid disparities in (0, 1), full resolution first:
              scale 0 (B, 1, H, W), 1 (B, 1, H/2, W/2), 2 (B, 1, H/4, W/4), 3 (B, 1, H/8, W/8);
      'depth': (B, 1, H, W), metres, from scale 0 via `disp_to_depth` with the config's range.
    """

    def __init__(self, cfg: RMDepthConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = build_encoder(cfg)
        self.decoder = DepthDecoder(cfg, self.encoder.channels)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor | tuple[torch.Tensor, ...]]:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f'expected an RGB batch of shape (B, 3, H, W), '
                             f'got {tuple(image.shape)}')
        height, width = image.shape[-2:]
        if height % SIZE_MULTIPLE or width % SIZE_MULTIPLE:
            raise ValueError(f'input height and width must be multiples of {SIZE_MULTIPLE}, got '
                             f'{width}x{height} (width x height); resize or pad '
                             f'(the Estimator resizes for you)')
        disps = self.decoder(self.encoder(image))
        _, depth = disp_to_depth(disps[0], self.cfg.min_depth, self.cfg.max_depth)
        return {'disp': disps, 'depth': depth}
