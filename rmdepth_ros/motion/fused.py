"""The estimator's side of the hybrid motion source: network tensors in, fused motion out.

`HybridStep` hands `HybridMotion` (numpy / OpenCV, `hybrid.py`) what it needs from one frame -
the input image in gray at its own resolution (tracks are most precise there), the network's
depth and motion, and the moving-object evidence of the network's object motion moved onto the
input grid - and returns the fused `T_prev_cur` as a tensor, so that the estimator computes
flow, masks and object motion with it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from rmdepth_ros.model import geometry
from rmdepth_ros.motion.hybrid import HybridMotion, HybridOptions, HybridResult
from rmdepth_ros.motion.two_view import to_gray
from rmdepth_ros.resize import Window

Fuse = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
                tuple[torch.Tensor, HybridResult | None]]


class HybridStep:
    def __init__(self, options: HybridOptions | None = None) -> None:
        self.motion = HybridMotion(options or HybridOptions())

    def reset(self) -> None:
        self.motion.reset()

    def keep(self, image: np.ndarray, intrinsics: np.ndarray, window: Window,
             depth: torch.Tensor) -> None:
        """A frame without motion (first frame, depth only): kept as the next frame's previous."""
        self.motion.step(to_gray(image), intrinsics, _numpy(depth), None, None,
                         _to_depth(window, intrinsics))

    def bind(self, image: np.ndarray, intrinsics: np.ndarray, window: Window) -> Fuse:
        """The function the estimator calls once the motion network has run:
        (T_prev_cur (1, 4, 4), T_obj (1, 3, h, w), depth (1, 1, h, w), K (1, 3, 3)) ->
        (fused T_prev_cur (1, 4, 4), HybridResult or None when no previous frame is kept)."""
        gray = to_gray(image)

        def fuse(transform: torch.Tensor, object_motion: torch.Tensor, depth: torch.Tensor,
                 k: torch.Tensor) -> tuple[torch.Tensor, HybridResult | None]:
            evidence = geometry.motion_mask(object_motion, depth, k, transform)
            moving = window.mask_to_input(evidence[0, 0].cpu().numpy())
            result = self.motion.step(gray, intrinsics, _numpy(depth),
                                      transform[0].double().cpu().numpy(), moving,
                                      _to_depth(window, intrinsics))
            if result is None:
                return transform, None
            fused = torch.as_tensor(result.motion, dtype=transform.dtype,
                                    device=transform.device)
            return fused.unsqueeze(0), result

        return fuse


def _numpy(depth: torch.Tensor) -> np.ndarray:
    return depth[0, 0].float().cpu().numpy()


def _to_depth(window: Window, intrinsics: np.ndarray) -> np.ndarray:
    """(2, 3) affine map from input-image pixels to network (depth-map) pixels."""
    return (window.network_intrinsics(intrinsics) @ np.linalg.inv(intrinsics))[:2]
