"""Camera-motion head of the motion network (spec section 3.3, default 11)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rmdepth_ros.model.config import RMDepthConfig
from rmdepth_ros.model.layers import conv

COORD_CHANNELS = 2  # x, y


def add_coord_inputs(state: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """A state dict of a decoder without coordinate inputs, made loadable by one with them: the
    first conv gets zero weights for the coordinate channels, so it computes the same."""
    key = next(k for k in state if k.startswith(prefix + 'convs.0.') and k.endswith('weight'))
    weight = state[key]
    extra = weight.new_zeros(weight.shape[0], COORD_CHANNELS, *weight.shape[2:])
    return {**state, key: torch.cat([weight, extra], dim=1)}


class PoseDecoder(nn.Module):
    """Level-3 motion feature -> 6-DoF camera motion T_s_t as (axisangle, translation).

    3x conv3x3 with cfg.pose_channels (the first two with stride 2 to widen the receptive field
    beyond the 1/8 feature map) -> conv1x1 to 6 -> spatial mean -> times the output gains
    (cfg.pose_rotation_scale, cfg.pose_translation_scale; Monodepth2 uses 0.01 for both).

    With cfg.pose_coords the first conv also sees the pixel's normalised image coordinates
    (x, y in [-1, 1], CoordConv). Convolutions and the spatial mean are blind to where a
    feature sits, so a plain head can read a uniform image shift (rotation) but hardly the
    expansion of forward motion, whose local flow changes sign across the image.
    """

    def __init__(self, cfg: RMDepthConfig) -> None:
        super().__init__()
        c_in, width = cfg.motion_channels[2], cfg.pose_channels
        self.coords = cfg.pose_coords
        c_in += COORD_CHANNELS if self.coords else 0
        self.convs = nn.Sequential(conv(c_in, width, stride=2), conv(width, width, stride=2),
                                   conv(width, width))
        self.out = nn.Conv2d(width, 6, kernel_size=1)
        gains = [cfg.pose_rotation_scale] * 3 + [cfg.pose_translation_scale] * 3
        self.register_buffer('gains', torch.tensor(gains), persistent=False)

    def forward(self, feature: Tensor) -> tuple[Tensor, Tensor]:
        """feature: (B, c3, h, w). Returns axisangle (B, 3) radians, translation (B, 3) metres."""
        if self.coords:
            batch, _, height, width = feature.shape
            y, x = torch.meshgrid(torch.linspace(-1.0, 1.0, height, device=feature.device),
                                  torch.linspace(-1.0, 1.0, width, device=feature.device),
                                  indexing='ij')
            grid = torch.stack([x, y]).to(feature.dtype).expand(batch, 2, height, width)
            feature = torch.cat([feature, grid], dim=1)  # (B, c3 + 2, h, w)
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
