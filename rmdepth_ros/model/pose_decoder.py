"""Camera-motion head of the motion network (spec section 3.3, default 11)."""

from __future__ import annotations

from torch import Tensor, nn

from rmdepth_ros.model.config import RMDepthConfig
from rmdepth_ros.model.layers import conv

# Monodepth2's output scaling: keeps the initial motion near identity (radians, model metres).
_OUTPUT_SCALE = 0.01


class PoseDecoder(nn.Module):
    """Level-3 motion feature -> 6-DoF camera motion T_s_t as (axisangle, translation).

    3x conv3x3 with cfg.pose_channels (the first two with stride 2 to widen the receptive field
    beyond the 1/8 feature map) -> conv1x1 to 6 -> spatial mean -> x0.01.
    """

    def __init__(self, cfg: RMDepthConfig) -> None:
        super().__init__()
        c_in, width = cfg.motion_channels[2], cfg.pose_channels
        self.convs = nn.Sequential(conv(c_in, width, stride=2), conv(width, width, stride=2),
                                   conv(width, width))
        self.out = nn.Conv2d(width, 6, kernel_size=1)

    def forward(self, feature: Tensor) -> tuple[Tensor, Tensor]:
        """feature: (B, c3, h, w). Returns axisangle (B, 3) radians, translation (B, 3) metres."""
        pose = self.out(self.convs(feature)).mean(dim=(2, 3)) * _OUTPUT_SCALE  # (B, 6)
        return pose[:, :3], pose[:, 3:]
