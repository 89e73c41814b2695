"""Depth encoders: feature pyramids at 1/2, 1/4 and 1/8 of the input resolution.

The paper does not describe its encoder (spec section 2.5). Two options are built:

- `ResNet18Encoder` (default, spec option B): ResNet-18 truncated after layer2, meant to start
  from ImageNet weights. Module and parameter names follow torchvision's `resnet18`, so
  `load_torchvision_resnet18` can read a torchvision state-dict file key for key.
- `PyramidEncoder` (spec option A): a LiteFlowNet-style plain conv pyramid, LeakyReLU 0.1, no
  normalisation layers, trained from scratch; it tests the "ImageNet matters" hypothesis.

Both own the input normalisation: they take RGB in [0, 1], (B, 3, H, W), with H and W multiples
of 8, and return (E2, E3, E4) with `channels` = (64, 64, 128) at 1/2, 1/4, 1/8.
"""

from __future__ import annotations

from collections.abc import Mapping
import os

import torch
from torch import nn

from rmdepth_ros.model.config import RMDepthConfig
from rmdepth_ros.model.layers import conv

# ImageNet statistics the torchvision weights were trained with (RGB order).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision ResNet-18 parts that lie beyond our truncation; their keys are dropped on load.
_DROPPED_PREFIXES = ('layer3.', 'layer4.', 'fc.')


class _NormalisedEncoder(nn.Module):
    """Holds the ImageNet mean/std as buffers that follow `.to()` but stay out of state dicts."""

    def __init__(self) -> None:
        super().__init__()
        # Non-persistent: constants, not weights, so checkpoints and torchvision files match.
        self.register_buffer('mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer('std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1),
                             persistent=False)

    def normalise(self, image: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1], (B, 3, H, W) -> zero-mean, unit-variance ImageNet input."""
        return (image - self.mean) / self.std


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 conv + BN, identity (or 1x1 projection) shortcut.

    Attribute names (conv1, bn1, conv2, bn2, downsample.0/.1) are those of torchvision's blocks.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample: nn.Sequential | None = None
        if stride != 1 or in_channels != out_channels:
            # The shortcut must match the main path's resolution and width.
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class ResNet18Encoder(_NormalisedEncoder):
    """ResNet-18 stem, layer1 and layer2 (683,072 parameters).

    forward(image (B, 3, H, W) RGB in [0, 1]) -> (E2 (B, 64, H/2, W/2), E3 (B, 64, H/4, W/4),
    E4 (B, 128, H/8, W/8)). E2 is taken after the stem's ReLU, before the max-pool.
    """

    channels = (64, 64, 128)

    def __init__(self, cfg: RMDepthConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, stride=2), BasicBlock(128, 128))
        # He initialisation for the ReLU path; used only when no ImageNet weights are loaded.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode='fan_out', nonlinearity='relu')

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        e2 = self.relu(self.bn1(self.conv1(self.normalise(image))))
        e3 = self.layer1(self.maxpool(e2))
        e4 = self.layer2(e3)
        return e2, e3, e4


class PyramidEncoder(_NormalisedEncoder):
    """LiteFlowNet-style conv pyramid (spec option A), LeakyReLU 0.1, no BN (687,552 params).

    LiteFlowNet's NetC uses a 7x7 full-resolution conv, then 3/2/2 3x3 convs at 1/2, 1/4, 1/8.
    We keep that layout but use the ResNet widths (64, 64, 128), so the decoder is identical for
    both encoders, and stop at 1/8, the decoder's top level; the budget NetC spends on its 1/16
    and 1/32 levels goes into two more 1/8 convs, which brings the encoder within 1 % of the
    ResNet one and keeps the ablation about pretraining and design, not size.

    forward(image (B, 3, H, W) RGB in [0, 1]) -> (E2 (B, 64, H/2, W/2), E3 (B, 64, H/4, W/4),
    E4 (B, 128, H/8, W/8)).
    """

    channels = (64, 64, 128)

    def __init__(self, cfg: RMDepthConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c2, c3, c4 = self.channels
        self.level1 = conv(3, 32, kernel_size=7)
        self.level2 = nn.Sequential(conv(32, c2, stride=2), conv(c2, c2), conv(c2, c2))
        self.level3 = nn.Sequential(conv(c2, c3, stride=2), conv(c3, c3))
        self.level4 = nn.Sequential(conv(c3, c4, stride=2), conv(c4, c4), conv(c4, c4),
                                    conv(c4, c4))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        e2 = self.level2(self.level1(self.normalise(image)))
        e3 = self.level3(e2)
        e4 = self.level4(e3)
        return e2, e3, e4


def build_encoder(cfg: RMDepthConfig) -> ResNet18Encoder | PyramidEncoder:
    """The encoder named by `cfg.encoder` ('resnet18' or 'pyramid')."""
    if cfg.encoder == 'resnet18':
        return ResNet18Encoder(cfg)
    if cfg.encoder == 'pyramid':
        return PyramidEncoder(cfg)
    raise ValueError(f"unknown encoder {cfg.encoder!r}; expected 'resnet18' or 'pyramid'")


def load_torchvision_resnet18(encoder: ResNet18Encoder,
                              path_or_state_dict: str | os.PathLike | Mapping[str, torch.Tensor]
                              ) -> None:
    """Copy torchvision ResNet-18 weights (e.g. the ImageNet file) into `encoder`, in place.

    Accepts a state-dict file (read with `torch.load(weights_only=True)`, so no code runs) or an
    already loaded mapping. Keys of layer3, layer4 and fc are dropped: our encoder ends at layer2.
    Everything else is strict: a missing key, a shape mismatch or a key that is not part of a
    ResNet-18 raises ValueError naming the keys, and nothing is loaded. The one tolerance is
    BatchNorm's `num_batches_tracked`, absent from files saved by old torch versions; it does not
    affect the output, so our current value is kept.
    """
    if not isinstance(encoder, ResNet18Encoder):
        raise TypeError(f'expected a ResNet18Encoder, got {type(encoder).__name__}')
    if isinstance(path_or_state_dict, Mapping):
        source = dict(path_or_state_dict)
    else:
        source = torch.load(path_or_state_dict, map_location='cpu', weights_only=True)
        if not isinstance(source, Mapping):
            raise ValueError(f'{os.fspath(path_or_state_dict)} does not hold a state dict '
                             f'(got {type(source).__name__})')
    kept = {k: v for k, v in source.items() if not k.startswith(_DROPPED_PREFIXES)}
    target = encoder.state_dict()

    missing = [k for k in target if k not in kept and not k.endswith('num_batches_tracked')]
    unexpected = [k for k in kept if k not in target]
    misshaped = [f'{k}: expected {tuple(target[k].shape)}, got {tuple(kept[k].shape)}'
                 for k in kept if k in target and kept[k].shape != target[k].shape]
    problems = []
    if missing:
        problems.append('missing keys: ' + ', '.join(missing))
    if misshaped:
        problems.append('mis-shaped keys: ' + '; '.join(misshaped))
    if unexpected:
        problems.append('unexpected keys: ' + ', '.join(unexpected))
    if problems:
        raise ValueError('not a torchvision ResNet-18 state dict: ' + ' | '.join(problems))

    for key, value in target.items():
        kept.setdefault(key, value)  # only num_batches_tracked can still be absent here
    encoder.load_state_dict(kept, strict=True)
