"""RMDepth: the depth and motion networks under one module, as stored in weights files."""

from __future__ import annotations

from torch import nn

from rmdepth_ros.model.config import RMDepthConfig
from rmdepth_ros.model.depth_net import DepthNet
from rmdepth_ros.model.motion_net import MotionNet


class RMDepth(nn.Module):
    """Container of `depth_net` (single image -> depth) and `motion_net` (pair -> motion).

    The two networks are used separately (the estimator and the trainer call them in turn), so
    this module has no forward of its own; it fixes the parameter names of the weights file.
    """

    def __init__(self, config: RMDepthConfig) -> None:
        super().__init__()
        self.config = config
        self.depth_net = DepthNet(config)
        self.motion_net = MotionNet(config)

    def num_parameters(self, part: str = 'all') -> int:
        """Parameter count of 'depth', 'motion' or 'all'."""
        modules = {'depth': [self.depth_net], 'motion': [self.motion_net],
                   'all': [self.depth_net, self.motion_net]}[part]
        return sum(p.numel() for m in modules for p in m.parameters())
