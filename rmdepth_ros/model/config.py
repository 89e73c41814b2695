"""The one architecture configuration of RM-Depth (Hui, CVPR 2022).

Every network constructor takes this frozen dataclass and nothing else. Defaults follow
`shared/spec/rmdepth_architecture.md` section 6 (default B: truncated ResNet-18 encoder,
RMU hidden widths 128/112/72, 9/2/2 iterations), which gives 2.97 M depth-network parameters.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RMDepthConfig:
    """Architecture of the depth and motion networks.

    Depth network:
      encoder: 'resnet18' (ResNet-18 conv1..layer2, features at 1/2, 1/4, 1/8) or 'pyramid'
        (LiteFlowNet-style pyramid trained from scratch, spec option A).
      hidden_channels: RMU hidden widths at levels L4 (1/8), L3 (1/4), L2 (1/2).
      head_channels: width of the full-resolution (L1) head.
      iterations: RMU iterations at L4, L3, L2 (weights shared within a level).
      min_depth, max_depth: metres; range of the sigmoid-disparity mapping.
    Motion network:
      motion_channels: shared motion-encoder widths at 1/2, 1/4, 1/8.
      pose_channels: width of the three pose-decoder convs.
      pose_rotation_scale, pose_translation_scale: fixed output gains of the pose decoder
        (radians, model metres per unit of its last conv). 0.01 is Monodepth2's choice, which
        keeps the first motions near the identity but makes metre-sized translations take
        very many Adam steps to reach; our CPU-trained weights use larger gains.
      pose_coords: the pose decoder also sees normalised image coordinates (CoordConv), so it
        can tell forward motion (expansion) from standing still; False as in Monodepth2.
      object_channels: widths of the two convs of each object-motion decoder level.
    Ablation switches (spec section 7):
      use_rmu: False = conventional concat+conv fusion (Eq. 3) instead of RMUs.
      use_modulation: False = RMU without the (w, b) modulation phase.
      residual_upsampling: False = bilinear + conv instead of bilinear + learned residual.
      object_motion: False = rigid scene, no object-motion decoder (T_obj = 0).
      rewarp: False = object motion from the un-warped pair in one pass, no re-warping.
    """

    encoder: str = 'resnet18'
    hidden_channels: tuple[int, int, int] = (128, 112, 72)
    head_channels: int = 32
    iterations: tuple[int, int, int] = (9, 2, 2)
    min_depth: float = 0.1
    max_depth: float = 100.0
    motion_channels: tuple[int, int, int] = (32, 64, 128)
    pose_channels: int = 256
    pose_rotation_scale: float = 0.01
    pose_translation_scale: float = 0.01
    pose_coords: bool = False
    object_channels: tuple[int, int] = (64, 32)
    use_rmu: bool = True
    use_modulation: bool = True
    residual_upsampling: bool = True
    object_motion: bool = True
    rewarp: bool = True

    def __post_init__(self) -> None:
        if self.encoder not in ('resnet18', 'pyramid'):
            raise ValueError(f"encoder must be 'resnet18' or 'pyramid', got {self.encoder!r}")
        for name in ('hidden_channels', 'iterations', 'motion_channels'):
            value = getattr(self, name)
            if len(value) != 3 or any(int(v) < 1 for v in value):
                raise ValueError(f'{name} must be three positive integers, got {value!r}')
        if len(self.object_channels) != 2 or any(int(v) < 1 for v in self.object_channels):
            raise ValueError(f'object_channels must be two positive integers, '
                             f'got {self.object_channels!r}')
        if self.head_channels < 1 or self.pose_channels < 1:
            raise ValueError('head_channels and pose_channels must be positive')
        if not (self.pose_rotation_scale > 0 and self.pose_translation_scale > 0):
            raise ValueError('pose_rotation_scale and pose_translation_scale must be positive')
        if not 0 < self.min_depth < self.max_depth:
            raise ValueError(f'need 0 < min_depth < max_depth, got {self.min_depth}, '
                             f'{self.max_depth}')

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RMDepthConfig:
        """Inverse of `to_dict`; unknown keys are an error, missing keys take defaults."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f'unknown architecture keys: {", ".join(unknown)}')
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**kwargs)

    def replace(self, **changes: Any) -> RMDepthConfig:
        return dataclasses.replace(self, **changes)


# A tiny configuration for fast unit tests (same code paths, few channels and iterations).
TINY = RMDepthConfig(hidden_channels=(16, 12, 8), head_channels=8, iterations=(2, 1, 1),
                     motion_channels=(8, 8, 16), pose_channels=16, object_channels=(8, 8))

