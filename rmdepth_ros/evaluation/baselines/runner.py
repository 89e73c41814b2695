"""Run every baseline beside an evaluation session, on the same frames and pixels as the system.

`BaselineRunner.add(frame, system_prediction)` is called with each scored frame. A baseline is
scored only where the system was: on frames the system answered, for the outputs it gave, with
NaN wherever the system's depth or flow is NaN. Each baseline has its own `Scorer`, so the
metrics are computed by exactly the same code as the system's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rmdepth_ros.datasets.sequence import Frame
from rmdepth_ros.evaluation.baselines.classical_vo import TwoViewVO
from rmdepth_ros.evaluation.baselines.depth import constant_depth, ground_plane_depth
from rmdepth_ros.evaluation.baselines.flow import DisFlow, to_gray, zero_flow
from rmdepth_ros.evaluation.baselines.masks import all_static
from rmdepth_ros.evaluation.baselines.motion import straight_ahead, zero_motion
from rmdepth_ros.evaluation.prediction import PoseIntegrator, Prediction
from rmdepth_ros.evaluation.scoring import ScoreOptions, Scorer

#: name -> (the output it replaces, label for reports)
BASELINES = {
    'constant_depth': ('depth', 'constant depth'),
    # not a baseline: the depth network's own depth, beside a system run with depth_source
    # 'fused' (scored only then: Prediction.network_depth)
    'network_depth': ('depth', 'network depth'),
    'ground_plane': ('depth', 'flat-ground prior'),
    'zero_motion': ('pose', 'zero motion'),
    'straight_ahead': ('pose', 'straight ahead'),
    'classical_vo': ('pose', 'classical VO'),
    # not a baseline: the motion network's own motion, beside a system run with
    # motion_source 'hybrid' (scored only then: Prediction.network_pose)
    'network_motion': ('pose', 'network motion'),
    'zero_flow': ('flow', 'zero flow'),
    'dis_flow': ('flow', 'OpenCV DIS'),
    'all_static': ('motion_mask', 'all static'),
}


@dataclass
class BaselineOptions:
    """camera_height: metres, for the flat-ground prior. classical_vo / dis: run those two
    (the only baselines with a real cost)."""

    camera_height: float = 1.65
    classical_vo: bool = True
    dis: bool = True


class BaselineRunner:
    def __init__(self, options: BaselineOptions | None = None,
                 score_options: ScoreOptions | None = None) -> None:
        self.options = options or BaselineOptions()
        names = [name for name in BASELINES
                 if (name != 'classical_vo' or self.options.classical_vo)
                 and (name != 'dis_flow' or self.options.dis)]
        self.scorers = {name: Scorer(score_options or ScoreOptions()) for name in names}
        self._poses = {name: PoseIntegrator() for name in names if BASELINES[name][0] == 'pose'}
        self._vo = TwoViewVO()
        self._dis = DisFlow()
        self._previous: np.ndarray | None = None  # gray image of the previous scored frame

    def add(self, frame: Frame, system: Prediction | None) -> None:
        """Score every baseline on `frame` where `system` (the system's prediction) was."""
        if system is None:
            return
        shape = frame.image.shape[:2]
        previous, gray = self._previous, to_gray(frame.image)
        self._previous = gray
        preds = {name: Prediction(system.index, system.stamp_ns) for name in self.scorers}
        if frame.depth is not None and system.depth is not None:
            unknown = ~np.isfinite(system.depth)
            for name, depth in (('constant_depth', constant_depth(shape)),
                                ('ground_plane', ground_plane_depth(
                                    shape, frame.intrinsics, self.options.camera_height))):
                depth[unknown] = np.nan
                preds[name].depth = depth
            preds['network_depth'].depth = system.network_depth
        if frame.flow is not None and system.flow is not None:
            unknown = ~np.isfinite(system.flow).all(-1)
            flows = {'zero_flow': zero_flow(shape)}
            if 'dis_flow' in preds and previous is not None and previous.shape == shape:
                flows['dis_flow'] = self._dis(previous, gray)
            for name, flow in flows.items():
                flow[unknown] = np.nan
                preds[name].flow = flow
        if frame.motion_mask is not None and system.motion_mask is not None:
            preds['all_static'].motion_mask = all_static(shape)
        if frame.pose is not None and system.pose is not None:
            moved = previous is not None
            steps = {'zero_motion': zero_motion(), 'straight_ahead': straight_ahead()}
            if 'classical_vo' in preds:
                vo = self._vo.step(gray, frame.intrinsics)
                steps['classical_vo'] = vo if vo is not None else zero_motion()
            for name, step in steps.items():
                preds[name].pose = self._poses[name].step(step if moved else None)
            preds['network_motion'].pose = system.network_pose
        for name, scorer in self.scorers.items():
            scorer.add(frame, preds[name])

    def summary(self) -> dict[str, dict]:
        """name -> the Scorer summary of that baseline (families it does not make are left
        out, as are the families nothing could be scored on)."""
        result = {}
        for name, scorer in self.scorers.items():
            family = BASELINES[name][0]
            key = 'trajectory' if family == 'pose' else family
            full = scorer.summary()
            if key in full:
                result[name] = {key: full[key]}
        if 'classical_vo' in result:
            result['classical_vo']['trajectory']['vo_failures'] = self._vo.failures
        return result
