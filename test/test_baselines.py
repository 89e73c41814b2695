"""Baselines (evaluation/baselines/) against hand-computed values, and the skill comparison.

The ground-truth double must beat every baseline; DIS must beat zero flow on a synthetic pair;
straight-ahead must be near-perfect on a straight drive and not on a turning one.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from rmdepth_ros.datasets.sequence import Frame
from rmdepth_ros.evaluation.baselines.classical_vo import two_view_motion
from rmdepth_ros.evaluation.baselines.depth import constant_depth, ground_plane_depth
from rmdepth_ros.evaluation.baselines.flow import DisFlow, zero_flow
from rmdepth_ros.evaluation.baselines.masks import all_static, moving_fraction
from rmdepth_ros.evaluation.baselines.motion import straight_ahead, zero_motion
from rmdepth_ros.evaluation.baselines.runner import BaselineRunner
from rmdepth_ros.evaluation.metrics import flow_epe, motion_errors
from rmdepth_ros.evaluation.offline import run_offline
from rmdepth_ros.evaluation.prediction import PoseIntegrator, Prediction
from rmdepth_ros.evaluation.report import build_summary, markdown_report
from rmdepth_ros.evaluation.scoring import Scorer
from rmdepth_ros.evaluation.session import Session
from rmdepth_ros.evaluation.skill import compare, skill, verdicts
from rmdepth_ros.evaluation.trajectory import trajectory_snippet_ate
from rmdepth_ros.motion.two_view import decompose_essential
from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence


def _rot_y(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])


def test_depth_baselines_hand_values() -> None:
    assert np.all(constant_depth((2, 3)) == 1.0) and constant_depth((2, 3)).shape == (2, 3)
    K = np.array([[10.0, 0, 1.5], [0, 10.0, 1.5], [0, 0, 1]])
    depth = ground_plane_depth((5, 2), K, camera_height=2.0, far=30.0)
    # rows 0, 1 are above the horizon (cy = 1.5): far; row v: 2 * 10 / (v - 1.5), capped at 30
    np.testing.assert_allclose(depth[:, 0], [30.0, 30.0, 30.0, 20.0 / 1.5, 20.0 / 2.5],
                               rtol=1e-6)
    assert np.all(depth[:, 0] == depth[:, 1])
    with pytest.raises(ValueError, match='positive'):
        ground_plane_depth((5, 2), K, camera_height=0.0)


def test_motion_mask_and_flow_baselines_hand_values() -> None:
    assert np.array_equal(zero_motion(), np.eye(4))
    step = straight_ahead(2.0)
    assert np.array_equal(step[:3, :3], np.eye(3)) and np.array_equal(step[:3, 3], [0, 0, 2])
    assert zero_flow((2, 3)).shape == (2, 3, 2) and not zero_flow((2, 3)).any()
    assert not all_static((4, 4)).any()
    mask = np.zeros((2, 4), bool)
    mask[0, :3] = True
    assert moving_fraction(mask) == pytest.approx(3 / 8)


def test_dis_flow_is_in_our_convention() -> None:
    """Content moving right by 3 px and down by 2 px: the point at x now was at x - (3, 2)."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 255, (140, 180), np.uint8), (0, 0), 1.5)
    previous = np.ascontiguousarray(texture[10:130, 10:170])
    current = np.ascontiguousarray(texture[8:128, 7:167])  # shifted by (+3, +2)
    flow = DisFlow()(previous, current)
    inner = flow[20:-20, 20:-20].reshape(-1, 2)
    np.testing.assert_allclose(np.median(inner, axis=0), [3.0, 2.0], atol=0.1)


def test_dis_beats_zero_flow_on_a_synthetic_pair() -> None:
    frames = list(SyntheticSequence(SynthConfig(width=256, height=96, frames=2, seed=3)))
    truth, valid = frames[1].flow, frames[1].flow_valid
    dis = flow_epe(DisFlow()(frames[0].image, frames[1].image), truth, valid)
    zero = flow_epe(zero_flow(truth.shape), truth, valid)
    assert zero > 1.0 and dis < 0.5 * zero
    # the opposite sign (DIS run the other way round, not negated) must be clearly worse
    assert flow_epe(-DisFlow()(frames[0].image, frames[1].image), truth, valid) > 1.5 * dis


def test_essential_decomposition_recovers_a_known_motion() -> None:
    rng = np.random.default_rng(1)
    K = np.array([[300.0, 0, 160], [0, 300.0, 120], [0, 0, 1]])
    points = np.column_stack([rng.uniform(-8, 8, 80), rng.uniform(-2, 2, 80),
                              rng.uniform(6, 40, 80)])  # previous camera frame
    R, t = _rot_y(2.0), np.array([0.05, 0.0, -1.0])  # X_cur = R X_prev + t
    t /= np.linalg.norm(t)
    current = points @ R.T + t

    def project(X: np.ndarray) -> np.ndarray:
        return (X @ K.T)[:, :2] / X[:, 2:]

    p0, p1 = project(points), project(current)
    essential, _ = cv2.findEssentialMat(p0, p1, K, method=cv2.RANSAC, threshold=0.5)
    R_est, t_est = decompose_essential(essential[:3], p0, p1, K, None)
    np.testing.assert_allclose(R_est, R, atol=1e-6)
    np.testing.assert_allclose(t_est, t, atol=1e-6)


def test_classical_vo_on_a_synthetic_pair() -> None:
    frames = list(SyntheticSequence(SynthConfig(width=320, height=96, frames=3, seed=4)))
    truth = np.linalg.inv(frames[1].pose) @ frames[2].pose
    motion = two_view_motion(frames[1].image, frames[2].image, frames[2].intrinsics)
    errors = motion_errors(motion, truth)
    assert errors['trans_dir_err_deg'] < 10.0 and errors['rot_err_deg'] < 0.5
    assert np.array_equal(two_view_motion(frames[1].image, frames[1].image,
                                          frames[1].intrinsics), np.eye(4))


def _chain(steps: list[np.ndarray]) -> np.ndarray:
    integrator = PoseIntegrator()
    return np.stack([integrator.step(None if i == 0 else s) for i, s in enumerate(steps)])


def test_straight_ahead_fits_a_straight_drive_but_not_a_turn() -> None:
    straight = SyntheticSequence(SynthConfig(frames=30, seed=3, curviness=0.0, min_speed=8.0,
                                             max_speed=8.0, pitch_roll_deg=0.0))
    gt = np.linalg.inv(straight.path.pose(0)) @ straight.path.poses  # no rendering needed
    baseline = _chain([straight_ahead()] * 30)
    on_straight = trajectory_snippet_ate(gt, baseline)['snippet_ate_mean']
    turn = np.eye(4)
    turn[:3, :3], turn[:3, 3] = _rot_y(3.0), [0.0, 0.0, 0.8]  # 0.8 m and 3 deg per frame
    on_turn = trajectory_snippet_ate(_chain([turn] * 30), baseline)['snippet_ate_mean']
    assert on_straight < 0.003 and on_turn > 10 * on_straight


def test_runner_scores_baselines_only_where_the_system_answered() -> None:
    K = np.array([[10.0, 0, 1.5], [0, 10.0, 1.5], [0, 0, 1]])
    depth = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]], np.float32)
    frame = Frame(image=np.zeros((4, 2), np.uint8), intrinsics=K, timestamp=0.0, depth=depth)
    system = depth.copy()
    system[0, 0] = np.nan  # the system left one pixel out: so must the baselines
    runner = BaselineRunner()
    runner.add(frame, Prediction(0, 0, depth=system))
    runner.add(frame, None)  # not answered: not scored
    result = runner.summary()
    g = depth.ravel()[1:].astype(np.float64)
    expected = np.mean(np.abs(np.median(g) - g) / g)  # constant map, median-scaled
    assert result['constant_depth']['depth']['median_scaled']['abs_rel'] == pytest.approx(
        expected)
    assert result['constant_depth']['depth']['images'] == 1
    assert 'zero_motion' not in result and 'dis_flow' not in result


class _TruthEstimator:
    """Answers every frame with its own ground truth (test double)."""

    def __init__(self, frames: list[Frame]) -> None:
        self.frames, self.previous = {f.timestamp: f for f in frames}, None

    def process(self, image, intrinsics, timestamp, compute_motion=True):
        frame = self.frames[timestamp]
        motion = None if self.previous is None else np.linalg.inv(self.previous.pose) @ frame.pose
        self.previous = frame
        return SimpleNamespace(depth=frame.depth, motion=motion, flow=frame.flow,
                               motion_mask=frame.motion_mask, timings={'total': 1.0})


def test_ground_truth_double_beats_every_baseline() -> None:
    frames = list(SyntheticSequence(SynthConfig(width=128, height=48, frames=7, seed=5)))
    session = Session(Scorer(), baselines=BaselineRunner())
    run_offline(frames, _TruthEstimator(frames), session, progress=False)
    summary = build_summary(session, {})
    rows = summary['comparison']
    # network_motion / network_depth are scored only beside a system with motion_source
    # 'hybrid' / depth_source 'fused'
    assert {r['baseline'] for r in rows} == set(session.baselines.scorers) - {
        'network_motion', 'network_depth'}
    assert all(r['skill'] <= 1.0 for r in rows)
    primary = {'abs_rel', 'snippet_ate_mean', 'epe', 'mask_error'}
    assert all(r['skill'] < 0.01 for r in rows if r['metric'] in primary)
    assert {r['metric'] for r in rows} >= primary
    assert all('the system beats every baseline' in s for s in summary['verdict'])
    text = markdown_report(summary)
    assert '| metric | system | baseline | its value | skill |' in text
    assert '| flow EPE (px) | 0 | OpenCV DIS |' in text
    assert '- Camera motion (5-frame snippet ATE (m), skill in brackets): the system beats' in text


def test_skill_and_verdicts() -> None:
    assert skill(1.0, 2.0) == 0.5 and skill(0.0, 0.0) == 1.0 and math.isinf(skill(1.0, 0.0))
    system = {'flow': {'epe': 2.0, 'fl_all': 0.1}}
    rows = compare(system, {'zero_flow': {'flow': {'epe': 4.0, 'fl_all': 0.3}},
                            'dis_flow': {'flow': {'epe': 1.0, 'fl_all': 0.05}}})
    assert [(r['metric'], r['baseline'], r['skill']) for r in rows] == [
        ('epe', 'zero_flow', 0.5), ('epe', 'dis_flow', 2.0),
        ('fl_all', 'zero_flow', pytest.approx(1 / 3)), ('fl_all', 'dis_flow', 2.0)]
    assert verdicts(rows) == ['Flow (flow EPE (px), skill in brackets): the system beats zero '
                              'flow (0.50); does not beat OpenCV DIS (2.00).']
    rows[1]['skill'] = 0.997  # prints as 1.00: a tie, not a win
    assert verdicts(rows)[0].endswith('beats zero flow (0.50); ties with OpenCV DIS (1.00).')
    rows[0]['skill'] = 1.5
    assert verdicts(rows)[0].endswith('beats no baseline (ties with OpenCV DIS (1.00); loses '
                                      'to zero flow (1.50)).')
