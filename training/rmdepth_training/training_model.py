"""The networks as one trainable module: one forward for DDP, the model itself from rmdepth_ros.

`rmdepth_ros.model.rmdepth.RMDepth` deliberately has no forward (the estimator calls its two
networks in turn). DistributedDataParallel synchronises gradients of what runs inside the
wrapped module's forward, so training wraps it here: depth of the target frame, then the motion
from the target to every source frame in one batched motion-net call.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rmdepth_ros.model.rmdepth import RMDepth


class TrainingModel(nn.Module):
    """forward(images, K, object_motion_scale, cycle) -> network outputs for a triplet batch.

    `self.model` is the RMDepth whose state dict is exported (parameter names unchanged).
    autocast_dtype: torch.bfloat16 / torch.float16 to run the depth network under autocast
    (CUDA AMP), None for float32 throughout.
    """

    def __init__(self, model: RMDepth, autocast_dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.model = model
        self.autocast_dtype = autocast_dtype

    def forward(self, images: Tensor, K: Tensor, object_motion_scale: float = 1.0,
                cycle: bool = False) -> dict[str, Tensor | tuple[Tensor, ...]]:
        """Run both networks.

        images: (B, F, 3, H, W) RGB in [0, 1], the frames the networks see (augmented); frame
          F // 2 is the target, the others are sources. K: (B, 3, 3) of the (H, W) images.
        object_motion_scale: MotionNet's object-motion ramp (0 during the burn-in).
        cycle: also run the motion net from each source back to the target (camera motion
          only), for the cycle-consistency loss.

        Returns:
          'disp': tuple of 4 sigmoid disparities, full resolution first, (B, 1, H/2^s, W/2^s);
          'depth': (B, 1, H, W) metres (model scale) from the full-resolution disparity;
          'T': (B, S, 4, 4) T_s_t per source (S = F - 1, sources in frame order);
          'object_motion': (B, S, 3, H, W) T_obj per source, metres, source-camera frame;
          'T_back': (B, S, 4, 4) T_t_s per source (only with cycle=True).
        """
        batch, frames = images.shape[:2]
        height, width = images.shape[-2:]
        target_index = frames // 2
        target = images[:, target_index]
        sources = torch.cat([images[:, :target_index], images[:, target_index + 1:]], dim=1)
        num_sources = sources.shape[1]

        # Mixed precision (CUDA) covers the depth network only, where most of the FLOPs are.
        # The motion network re-warps internally, and under autocast the projection's matrix
        # products (K times metre offsets of ~100) would run in bf16 with ~0.4 % error, i.e.
        # tenths of a pixel of warp error at 640x192; it stays in float32.
        with torch.autocast(device_type=target.device.type, dtype=self.autocast_dtype,
                            enabled=self.autocast_dtype is not None):
            depth_out = self.model.depth_net(target)
        depth = depth_out['depth'].float()

        # All sources in one motion-net call: the batch becomes (S * B), source-major.
        source_flat = sources.transpose(0, 1).reshape(-1, 3, height, width)  # (S*B, 3, H, W)
        target_rep = target.repeat(num_sources, 1, 1, 1)  # (S*B, 3, H, W)
        depth_rep = depth.repeat(num_sources, 1, 1, 1)  # (S*B, 1, H, W)
        K_rep = K.repeat(num_sources, 1, 1)  # (S*B, 3, 3)
        motion = self.model.motion_net(target_rep, source_flat, depth_rep, K_rep,
                                       object_motion_scale=object_motion_scale)
        out: dict[str, Tensor | tuple[Tensor, ...]] = {
            'disp': tuple(d.float() for d in depth_out['disp']),
            'depth': depth,
            'T': _unflatten(motion['T'], num_sources, batch),
            'object_motion': _unflatten(motion['object_motion'], num_sources, batch),
        }
        if cycle:
            # Only the pose head is needed: object_motion_scale=0 skips the object passes, so the
            # depth argument is a placeholder of the right shape and is never used.
            back = self.model.motion_net(source_flat, target_rep, depth_rep.detach(), K_rep,
                                         object_motion_scale=0.0)
            out['T_back'] = _unflatten(back['T'], num_sources, batch)
        return out


def _unflatten(value: Tensor, num_sources: int, batch: int) -> Tensor:
    """(S*B, ...) source-major -> (B, S, ...)."""
    return value.reshape(num_sources, batch, *value.shape[1:]).transpose(0, 1)
