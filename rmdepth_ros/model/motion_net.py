"""The RM-Depth motion network: camera motion plus a per-pixel object-motion field (spec 3.2).

Pass 1 encodes the raw pair (I_t, I_s) to level 3 and the pose decoder predicts T_s_t. Pass 2
refines object motion coarse to fine (levels 3 -> 2 -> 1, i.e. 1/8 -> 1/4 -> 1/2 resolution):
before each level I_s is warped towards I_t with D_t, the camera motion and the object motion
found so far, and the warped pair is re-encoded only as deep as that level needs; each level's
decoder adds a residual to the x2-upsampled coarser field (Eq. 11). Conventions for T_s_t and
T_obj are in docs/conventions.md.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
import torch.nn.functional as F

from rmdepth_ros.model.config import RMDepthConfig
from rmdepth_ros.model.geometry import warp
from rmdepth_ros.model.motion_encoder import MotionEncoder
from rmdepth_ros.model.object_motion_decoder import ObjectMotionDecoder
from rmdepth_ros.model.pose import pose_vec_to_mat
from rmdepth_ros.model.pose_decoder import PoseDecoder

# Encoder level of each object-motion decoder, coarse to fine.
_LEVELS = (3, 2, 1)


def _upsample(field: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize of a translation field (metres: the values need no rescaling)."""
    return F.interpolate(field, size=size, mode='bilinear', align_corners=False)


def _full_precision(like: Tensor) -> torch.autocast:
    """A region where autocast (if active) is off, on the device of `like`."""
    return torch.autocast(device_type=like.device.type, enabled=False)


def _fp32(x: Tensor) -> Tensor:
    """Half-precision tensors to float32; float32 and float64 unchanged."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


class MotionNet(nn.Module):
    """(I_t, I_s, D_t, K) -> camera motion T_s_t and object motion T_obj.

    cfg.object_motion False builds no object decoder at all (rigid scene, T_obj = 0);
    cfg.rewarp False predicts T_obj in one coarse-to-fine pass over the pass-1 features of the
    un-warped pair (the "w/o warping" ablation).
    """

    def __init__(self, cfg: RMDepthConfig) -> None:
        super().__init__()
        self.config = cfg
        self.encoder = MotionEncoder(cfg)
        self.pose_decoder = PoseDecoder(cfg)
        self.object_decoders: nn.ModuleList | None = None
        if cfg.object_motion:
            self.object_decoders = nn.ModuleList([
                ObjectMotionDecoder(cfg, cfg.motion_channels[level - 1], with_prior=level != 3)
                for level in _LEVELS])
        self.reset_parameters()

    def reset_parameters(self, scheme: str = 'he') -> None:
        """(Re-)initialise every convolution, in place; the constructor applies 'he'.

        'he': He (Kaiming) normal init for LeakyReLU(0.1) with zero biases; the output layers
        (pose and object-motion heads, no activation) get the linear gain. 'pytorch': PyTorch's
        own default (uniform, gain 1/sqrt(3), non-zero biases), kept for comparison: through the
        8 plain conv + LeakyReLU layers from the image pair to the pose output it shrinks the
        image-dependent part of the signal by ~1e6 in variance while the biases stay, so the pose
        head starts input-blind and, in a short training run, learns a constant motion.
        """
        if scheme not in ('he', 'pytorch'):
            raise ValueError(f"init scheme must be 'he' or 'pytorch', got {scheme!r}")
        heads = {'pose_decoder.out'} | {f'object_decoders.{i}.convs.2' for i in range(3)}
        for name, module in self.named_modules():
            if not isinstance(module, nn.Conv2d):
                continue
            if scheme == 'pytorch':
                module.reset_parameters()
                continue
            linear = name in heads
            nn.init.kaiming_normal_(module.weight, a=0.0 if linear else 0.1, mode='fan_in',
                                    nonlinearity='linear' if linear else 'leaky_relu')
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(self, target: Tensor, source: Tensor, depth_t: Tensor, K: Tensor,
                object_motion_scale: float = 1.0) -> dict[str, Tensor | tuple[Tensor, ...]]:
        """Estimate the motion from target frame t to source frame s.

        target, source: (B, 3, H, W) RGB in [0, 1], H and W multiples of 8.
        depth_t: (B, 1, H, W) target depth, metres (model scale). K: (B, 3, 3) intrinsics of
        the (H, W) images. object_motion_scale: multiplies T_obj everywhere (training burn-in
        ramp); 0 skips the object-motion passes and returns zeros.

        Returns a dict:
          'axisangle' (B, 3) radians and 'translation' (B, 3) metres of T_s_t;
          'T' (B, 4, 4): T_s_t, X_s = R X_t + t (source from target);
          'object_motion' (B, 3, H, W): full-resolution T_obj, metres, source-camera frame;
          'object_motion_levels': (T_obj,3 at 1/8, T_obj,2 at 1/4, T_obj,1 at 1/2), each
            (B, 3, H / 2^l, W / 2^l), coarse to fine.
        """
        self._check_inputs(target, source, depth_t, K)
        features = self.encoder(target, source, num_levels=3)
        axisangle, translation = self.pose_decoder(features[2])
        # Geometry in float32 even under autocast: Rodrigues in half precision is visibly not
        # orthonormal, and pixel coordinates of a 640-wide image have 0.5 px steps in float16.
        axisangle, translation = _fp32(axisangle), _fp32(translation)
        with _full_precision(target):
            T = pose_vec_to_mat(axisangle, translation)

        height, width = target.shape[-2:]
        if self.object_decoders is None or object_motion_scale == 0:
            levels = tuple(target.new_zeros(target.shape[0], 3, height >> level, width >> level)
                           for level in _LEVELS)
        elif self.config.rewarp:
            levels = self._refine_with_rewarp(self.object_decoders, target, source, depth_t, K, T,
                                              object_motion_scale)
        else:
            levels = self._refine_without_rewarp(self.object_decoders, features,
                                                 object_motion_scale)
        return {
            'axisangle': axisangle,
            'translation': translation,
            'T': T,
            'object_motion': _upsample(levels[-1], (height, width)),
            'object_motion_levels': levels,
        }

    def _refine_with_rewarp(self, decoders: nn.ModuleList, target: Tensor, source: Tensor,
                            depth_t: Tensor, K: Tensor, T: Tensor,
                            scale: float) -> tuple[Tensor, ...]:
        """Coarse-to-fine T_obj, re-warping and re-encoding the pair before every level."""
        size = target.shape[-2:]
        # Spec default 14: the warp that builds the re-encoder's input is a stop-gradient
        # (depth, camera and object motion detached); the loss's own warp is not.
        depth, K, T = depth_t.detach(), K.detach(), T.detach()
        field = None  # (B, 3, H, W) scaled T_obj so far; None = camera motion only
        previous = None
        levels = []
        for level, decoder in zip(_LEVELS, decoders, strict=True):
            with _full_precision(target):
                warped, _ = warp(_fp32(source), _fp32(depth), _fp32(K), T, field)
            feature = self.encoder(target, warped, num_levels=level)[-1]
            previous = self._decode(decoder, feature, previous)
            levels.append(previous * scale)
            field = _fp32(_upsample(levels[-1], size).detach())
        return tuple(levels)

    def _refine_without_rewarp(self, decoders: nn.ModuleList, features: list[Tensor],
                               scale: float) -> tuple[Tensor, ...]:
        """Coarse-to-fine T_obj from the un-warped pair's features (no re-warping)."""
        previous = None
        levels = []
        for level, decoder in zip(_LEVELS, decoders, strict=True):
            previous = self._decode(decoder, features[level - 1], previous)
            levels.append(previous * scale)
        return tuple(levels)

    @staticmethod
    def _decode(decoder: nn.Module, feature: Tensor, previous: Tensor | None) -> Tensor:
        """T_obj at this level: the decoder's field, or the upsampled coarser one + a residual."""
        if previous is None:
            return decoder(feature)
        prior = _upsample(previous, feature.shape[-2:])  # (B, 3, h, w), x2
        return prior + decoder(feature, prior)

    @staticmethod
    def _check_inputs(target: Tensor, source: Tensor, depth_t: Tensor, K: Tensor) -> None:
        if target.dim() != 4 or target.shape[1] != 3 or source.shape != target.shape:
            raise ValueError(f'target and source must both be (B, 3, H, W), got '
                             f'{tuple(target.shape)} and {tuple(source.shape)}')
        batch, _, height, width = target.shape
        if height % 8 or width % 8:
            raise ValueError(f'image height and width must be multiples of 8, '
                             f'got {width}x{height}')
        if depth_t.shape != (batch, 1, height, width):
            raise ValueError(f'depth_t must be {(batch, 1, height, width)}, '
                             f'got {tuple(depth_t.shape)}')
        if K.shape != (batch, 3, 3):
            raise ValueError(f'K must be {(batch, 3, 3)}, got {tuple(K.shape)}')
