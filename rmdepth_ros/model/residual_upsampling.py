"""Residual upsampling (RM-Depth Eq. 9/10): fixed bilinear low frequencies + learned residual.

Conventional decoders learn one set of upsampling filters that must reproduce the whole spectrum.
RM-Depth splits the job in two (Eq. 10): a fixed low-frequency path f_l (bilinear, per the
author's issue #6) and a learned high-frequency path f_h that only has to add back the detail
bilinear interpolation smooths away. Our f_h is a 4x4 stride-2 transposed conv (spec section 6,
item 7), zero-initialised so a fresh network upsamples exactly bilinearly.

`BilinearConvUpsampling` is the "w/o residual upsampling" ablation (supplement Table 5): the same
x2 resize done conventionally, bilinear followed by a plain learned 3x3 conv.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


def bilinear_x2(x: torch.Tensor) -> torch.Tensor:
    """Bilinear x2 resize, half-pixel (`align_corners=False`) convention; (B, C, H, W) -> 2H, 2W.

    The explicit output size (rather than scale_factor) keeps the sampling grid identical to what
    `cv2.resize` and `docs/conventions.md` assume.
    """
    height, width = x.shape[-2:]
    return F.interpolate(x, size=(2 * height, 2 * width), mode='bilinear', align_corners=False)


class ResidualUpsampling(nn.Module):
    """x2 upsampling RU(x) = bilinear(x) + f_h(x), channel count unchanged.

    Args:
      channels: C, channels of input and output.
      learned: False drops f_h and leaves pure bilinear upsampling (no parameters).

    Shapes: (B, C, H, W) -> (B, C, 2H, 2W).
    """

    def __init__(self, channels: int, learned: bool = True) -> None:
        super().__init__()
        self.channels = channels
        self.high_frequency: nn.ConvTranspose2d | None = None
        if learned:
            # k4 s2 p1 maps H -> 2H exactly, and every output pixel sees a 2x2 input window, the
            # same footprint as the bilinear path it corrects.
            self.high_frequency = nn.ConvTranspose2d(channels, channels, kernel_size=4, stride=2,
                                                     padding=1)
            # Zero start: training begins from plain bilinear and only learns the residual.
            nn.init.zeros_(self.high_frequency.weight)
            nn.init.zeros_(self.high_frequency.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = bilinear_x2(x)
        if self.high_frequency is None:
            return low
        return low + self.high_frequency(x)


class BilinearConvUpsampling(nn.Module):
    """Conventional x2 upsampling for the ablation: conv3x3(bilinear(x)), no activation.

    Shapes: (B, C, H, W) -> (B, C, 2H, 2W).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.conv = nn.Conv2d(channels, channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(bilinear_x2(x))


def build_upsampling(channels: int, residual: bool) -> nn.Module:
    """The decoder's x2 upsampler: residual (default) or bilinear + conv3x3 (ablation)."""
    if residual:
        return ResidualUpsampling(channels)
    return BilinearConvUpsampling(channels)
