"""What an evaluation run got for one input frame, from the estimator (offline) or the node (live).

Also `EstimatorLike`, the interface the offline runner needs: anything with
`process(image, intrinsics, timestamp)` returning an object with `depth`, `motion`, `flow`,
`motion_mask` and `timings` attributes as `rmdepth_ros.inference.EstimatorOutput` has, so that
tests can inject a double that returns the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class EstimatorLike(Protocol):
    """The part of `rmdepth_ros.inference.Estimator` that the offline runner uses."""

    def process(self, image: np.ndarray, intrinsics: np.ndarray, timestamp: float) -> Any:
        ...


@dataclass
class Prediction:
    """The outputs for one input frame; None where nothing was produced.

    stamp_ns: the input image's header stamp (ns); outputs are matched to inputs by it.
    depth: (H, W) float32 metres, NaN invalid. flow: (H, W, 2) float32 pixels (current grid).
    motion_mask: (H, W) bool. pose: (4, 4) camera-to-world of the predicted trajectory (world =
    the first frame's camera for offline runs, the node's odom frame for live runs).
    latency_ms: input to output, wall time (offline: `process` time; live: publish to receive).
    network_pose: (4, 4) the trajectory of the motion network's own motion, kept when the
    system's motion came from another source (motion_source 'hybrid'), else None.
    network_depth: (H, W) the depth network's own depth, kept when the system's depth came
    from another source (depth_source 'fused'), else None.
    """

    index: int
    stamp_ns: int
    depth: np.ndarray | None = None
    flow: np.ndarray | None = None
    motion_mask: np.ndarray | None = None
    pose: np.ndarray | None = None
    latency_ms: float | None = None
    network_pose: np.ndarray | None = None
    network_depth: np.ndarray | None = None


class PoseIntegrator:
    """Chains the estimator's relative motions T_prev_cur into camera-to-world poses.

    A frame without motion (the first, or after a reset) keeps the previous pose, as the node's
    odometry does: the trajectory never jumps.
    """

    def __init__(self) -> None:
        self.pose = np.eye(4)

    def step(self, motion: np.ndarray | None) -> np.ndarray:
        if motion is not None:
            self.pose = self.pose @ np.asarray(motion, np.float64)
        return self.pose.copy()


def prediction_from_output(index: int, stamp_ns: int, output: Any,
                           integrator: PoseIntegrator,
                           network_integrator: PoseIntegrator | None = None) -> Prediction:
    """A Prediction from an EstimatorOutput-like object (see the module docstring).

    network_integrator: chains the output's `network_motion` into `network_pose` (pass one
    when the estimator's motion_source is not 'network'); None leaves network_pose None.
    """
    mask = getattr(output, 'motion_mask', None)
    timings = getattr(output, 'timings', None) or {}
    return Prediction(index=index, stamp_ns=stamp_ns, depth=output.depth,
                      flow=getattr(output, 'flow', None),
                      motion_mask=None if mask is None else np.asarray(mask, bool),
                      pose=integrator.step(getattr(output, 'motion', None)),
                      latency_ms=timings.get('total'),
                      network_pose=None if network_integrator is None else
                      network_integrator.step(getattr(output, 'network_motion', None)),
                      network_depth=_own_depth(output))


def _own_depth(output: Any) -> np.ndarray | None:
    """The network's own depth when the output's depth is another (fused), else None."""
    own = getattr(output, 'network_depth', None)
    return None if own is None or own is output.depth else own
