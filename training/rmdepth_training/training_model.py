"""The networks as one trainable module: one forward for DDP, the model itself from rmdepth_ros.

`rmdepth_ros.model.rmdepth.RMDepth` deliberately has no forward (the estimator calls its two
networks in turn). DistributedDataParallel synchronises gradients of what runs inside the
wrapped module's forward, so training wraps it here: depth of the target frame, then the motion
between the target and its sources (batched motion-net calls, pairs in temporal order).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rmdepth_ros.model.pose import invert_transform
from rmdepth_ros.model.rmdepth import RMDepth


class TrainingModel(nn.Module):
    """forward(images, K, object_motion_scale, cycle) -> network outputs for a triplet batch.

    `self.model` is the RMDepth whose state dict is exported (parameter names unchanged).
    autocast_dtype: torch.bfloat16 / torch.float16 to run the depth network under autocast
    (CUDA AMP), None for float32 throughout.
    frozen_motion: run the motion network without gradients, on detached depth (adaptation to
    a user's camera trains depth only and keeps the camera motion exactly as it was).
    """

    def __init__(self, model: RMDepth, autocast_dtype: torch.dtype | None = None,
                 frozen_motion: bool = False) -> None:
        super().__init__()
        self.model = model
        self.autocast_dtype = autocast_dtype
        self.frozen_motion = frozen_motion

    def forward(self, images: Tensor, K: Tensor, object_motion_scale: float = 1.0,
                cycle: bool = False, temporal_order: bool = True
                ) -> dict[str, Tensor | tuple[Tensor, ...]]:
        """Run both networks.

        images: (B, F, 3, H, W) RGB in [0, 1], the frames the networks see (augmented); frame
          F // 2 is the target, the others are sources. K: (B, 3, 3) of the (H, W) images.
        object_motion_scale: MotionNet's object-motion ramp (0 during the burn-in).
        cycle: also run the motion net from each source back to the target (camera motion
          only), for the cycle-consistency loss.
        temporal_order: feed the motion net every pair in temporal order, the later frame as
          its target, exactly as the estimator does at run time (current, previous). For a
          source after the target this gives T_t_s, which is inverted (Monodepth2's trick: the
          net only ever sees forward motion, no direction to disambiguate); object motion is
          then predicted for earlier sources only, since a later source's field would live on
          the source's pixel grid. False: every source as (target, source), T_s_t directly.

        Returns:
          'disp': tuple of 4 sigmoid disparities, full resolution first, (B, 1, H/2^s, W/2^s);
          'depth': (B, 1, H, W) metres (model scale) from the full-resolution disparity;
          'T': (B, S, 4, 4) T_s_t per source (S = F - 1, sources in frame order);
          'object_motion': (B, S, 3, H, W) T_obj per source, metres, source-camera frame;
          'object_motion_valid': (S,) bool, whether the source has an object-motion field
            (zeros otherwise);
          'T_back': (B, S, 4, 4) T_t_s per source (only with cycle=True).
        """
        target = images[:, images.shape[1] // 2]

        # Mixed precision (CUDA) covers the depth network only, where most of the FLOPs are.
        # The motion network re-warps internally, and under autocast the projection's matrix
        # products (K times metre offsets of ~100) would run in bf16 with ~0.4 % error, i.e.
        # tenths of a pixel of warp error at 640x192; it stays in float32.
        with torch.autocast(device_type=target.device.type, dtype=self.autocast_dtype,
                            enabled=self.autocast_dtype is not None):
            depth_out = self.model.depth_net(target)
        depth = depth_out['depth'].float()
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen_motion):
            motion = self._all_motion(images, target, depth.detach() if self.frozen_motion
                                      else depth, K, object_motion_scale, cycle, temporal_order)
        return {'disp': tuple(d.float() for d in depth_out['disp']), 'depth': depth, **motion}

    def _all_motion(self, images: Tensor, target: Tensor, depth: Tensor, K: Tensor,
                    object_motion_scale: float, cycle: bool, temporal_order: bool
                    ) -> dict[str, Tensor]:
        """'T', 'object_motion', 'object_motion_valid' (and 'T_back') of `forward`."""
        frames = images.shape[1]
        target_index = frames // 2
        order = [i for i in range(frames) if i != target_index]  # source frames, in order

        before = [i for i in order if i < target_index or not temporal_order]
        after = [i for i in order if i > target_index and temporal_order]
        T = {}
        object_motion = {}
        if before:
            # Sources before the target (all sources without temporal order) in one batched
            # call: the batch becomes (S' * B), source-major.
            motion = self._motion(target, images[:, before], depth, K, object_motion_scale)
            for j, i in enumerate(before):
                T[i] = motion['T'][j]
                object_motion[i] = motion['object_motion'][j]
        if after:
            # Later sources as (source, target): camera motion only, so MotionNet never reads
            # the depth argument (it would need the later frame's depth) and gets a placeholder.
            reverse = self._motion_pairs(images[:, after], target, depth, K, 0.0)
            for j, i in enumerate(after):
                T[i] = invert_transform(reverse['T'][j])  # T_t_s -> T_s_t
                object_motion[i] = torch.zeros_like(target)
        out = {
            'T': torch.stack([T[i] for i in order], dim=1),
            'object_motion': torch.stack([object_motion[i] for i in order], dim=1),
            'object_motion_valid': torch.tensor([i in before for i in order]),
        }
        if cycle:
            # Every source back to the target, camera motion only (see `after` above).
            back = self._motion_pairs(images[:, order], target, depth, K, 0.0)
            out['T_back'] = torch.stack([back['T'][j] for j in range(len(order))], dim=1)
        return out

    def _motion(self, target: Tensor, sources: Tensor, depth: Tensor, K: Tensor,
                scale: float) -> dict[str, Tensor]:
        """MotionNet(target, each source) batched; sources (B, S', 3, H, W) -> T (S', B, 4, 4),
        object_motion (S', B, 3, H, W)."""
        num, batch = sources.shape[1], sources.shape[0]
        height, width = sources.shape[-2:]
        source_flat = sources.transpose(0, 1).reshape(-1, 3, height, width)  # (S'*B, 3, H, W)
        motion = self.model.motion_net(target.repeat(num, 1, 1, 1), source_flat,
                                       depth.repeat(num, 1, 1, 1), K.repeat(num, 1, 1),
                                       object_motion_scale=scale)
        return {'T': motion['T'].reshape(num, batch, 4, 4),
                'object_motion': motion['object_motion'].reshape(num, batch, 3, height, width)}

    def _motion_pairs(self, firsts: Tensor, second: Tensor, depth: Tensor, K: Tensor,
                      scale: float) -> dict[str, Tensor]:
        """MotionNet(each of firsts (B, S', 3, H, W) as target, second (B, 3, H, W) as source),
        camera motion only: T (S', B, 4, 4)."""
        num, batch = firsts.shape[1], firsts.shape[0]
        height, width = firsts.shape[-2:]
        first_flat = firsts.transpose(0, 1).reshape(-1, 3, height, width)  # (S'*B, 3, H, W)
        motion = self.model.motion_net(first_flat, second.repeat(num, 1, 1, 1),
                                       depth.detach().repeat(num, 1, 1, 1),
                                       K.repeat(num, 1, 1), object_motion_scale=scale)
        return {'T': motion['T'].reshape(num, batch, 4, 4)}

