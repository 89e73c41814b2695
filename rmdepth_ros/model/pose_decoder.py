"""Camera-motion head of the motion network (spec section 3.3, default 11)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rmdepth_ros.model.config import RMDepthConfig
from rmdepth_ros.model.layers import conv


class PoseDecoder(nn.Module):
    """Level-3 motion feature -> 6-DoF camera motion T_s_t as (axisangle, translation).

    3x conv3x3 with cfg.pose_channels (the first two with stride 2 to widen the receptive field
    beyond the 1/8 feature map) -> conv1x1 to 6 -> spatial mean -> times the output gains
    (cfg.pose_rotation_scale, cfg.pose_translation_scale; Monodepth2 uses 0.01 for both).
    """

    def __init__(self, cfg: RMDepthConfig) -> None:
        super().__init__()
        c_in, width = cfg.motion_channels[2], cfg.pose_channels
        self.convs = nn.Sequential(conv(c_in, width, stride=2), conv(width, width, stride=2),
                                   conv(width, width))
        self.out = nn.Conv2d(width, 6, kernel_size=1)
        gains = [cfg.pose_rotation_scale] * 3 + [cfg.pose_translation_scale] * 3
        self.register_buffer('gains', torch.tensor(gains), persistent=False)

    def forward(self, feature: Tensor) -> tuple[Tensor, Tensor]:
        """feature: (B, c3, h, w). Returns axisangle (B, 3) radians, translation (B, 3) metres."""
        pose = self.out(self.convs(feature)).mean(dim=(2, 3)) * self.gains  # (B, 6)
        return pose[:, :3], pose[:, 3:]

    @torch.no_grad()
    def adopt_gains(self, rotation_scale: float, translation_scale: float) -> None:
        """Rescale the last conv of weights trained with other output gains so that this
        decoder computes exactly what they did (fine-tuning with new gains)."""
        old = torch.tensor([rotation_scale] * 3 + [translation_scale] * 3)
        ratio = (old / self.gains.cpu()).to(self.out.weight)
        self.out.weight.mul_(ratio.view(6, 1, 1, 1))
        self.out.bias.mul_(ratio)
