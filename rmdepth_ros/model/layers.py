"""Small building blocks shared by the depth and motion networks."""

from __future__ import annotations

from torch import nn


def conv(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
         activation: bool = True) -> nn.Module:
    """Conv2d with 'same' padding, followed by LeakyReLU(0.1) unless `activation` is False.

    The spec (section 6, item 27) uses LeakyReLU 0.1 and no normalisation in every layer outside
    the pretrained ResNet.
    """
    layer = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                      padding=kernel_size // 2)
    if not activation:
        return layer
    return nn.Sequential(layer, nn.LeakyReLU(0.1, inplace=True))
