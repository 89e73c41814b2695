"""rmdepth_training.evaluation.AbsRelBreakdown and the evaluate_synthetic command line."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from rmdepth_training.datasets import VALIDATION_SEED
from rmdepth_training.evaluate_synthetic import main as evaluate_main
from rmdepth_training.evaluation import AbsRelBreakdown, evaluate_sequences


class _ScaledTruth:
    """Stands in for the Estimator: answers each frame's true depth x 2, x 6 on its movers (the
    test frames carry themselves as their image)."""

    def __init__(self) -> None:
        self.resets = 0

    def reset(self, reason: str) -> None:
        self.resets += 1

    def process(self, image, intrinsics, timestamp, compute_motion=True):
        depth = image.depth * 2.0
        depth[image.motion_mask] *= 3.0
        return SimpleNamespace(depth=depth, motion=None, flow=None, motion_mask=None)


def _frame() -> SimpleNamespace:
    depth = np.full((32, 64), 8.0, np.float32)  # 60 % of the pixels at 8 m
    depth[20:] = 30.0
    depth[0, :4] = np.inf                         # sky: not a valid pixel
    moving = np.zeros((32, 64), bool)
    moving[10:12, 10:12] = True                   # a near car: 4 pixels at 3 m
    depth[moving] = 3.0
    frame = SimpleNamespace(depth=depth, motion_mask=moving, intrinsics=np.eye(3), timestamp=0.0,
                            pose=None, flow=None)
    frame.image = frame
    return frame


def test_breakdown_puts_the_error_where_it_is():
    estimator = _ScaledTruth()
    sequences = [[_frame(), _frame()], [_frame()]]
    split = AbsRelBreakdown()
    evaluate_sequences(estimator, sequences, motion=False, breakdown=split, baselines=False)
    result = split.result()
    assert estimator.resets == 2
    # Median scaling removes the global x2; the movers keep their x3: |9 - 3| / 3 = 2.
    assert result['abs_rel_moving'] == pytest.approx(2.0)
    assert result['abs_rel_0-5m'] == pytest.approx(2.0)
    assert result['abs_rel_static'] == pytest.approx(0.0, abs=1e-9)
    assert result['abs_rel_5-10m'] == pytest.approx(0.0, abs=1e-9)
    assert result['abs_rel_20-40m'] == pytest.approx(0.0, abs=1e-9)
    valid = 32 * 64 - 4  # the sky pixels are out
    assert result['share_moving'] == pytest.approx(4 / valid)
    assert result['share_20-40m'] == pytest.approx(12 * 64 / valid)
    assert 'abs_rel_10-20m' not in result  # no pixel there: no number, not a zero


def test_evaluate_command_with_breakdown_on_validation_seeds(tiny_weights, tmp_path, capsys):
    out = tmp_path / 'results.json'
    assert evaluate_main([str(tiny_weights), '--sequences', '1', '--frames', '3',
                          '--kitti-odometry', '', '--breakdown', '--seeds', 'validation',
                          '--json', str(out)]) == 0
    results = json.loads(out.read_text())
    assert results == json.loads(capsys.readouterr().out)
    assert results['synthetic_seeds'] == [VALIDATION_SEED, VALIDATION_SEED]
    synthetic = results['synthetic_64x32']
    assert synthetic['images'] == 3 and 0 < synthetic['abs_rel'] < 10
    breakdown = synthetic['abs_rel_breakdown']
    shares = [v for k, v in breakdown.items()
              if k.startswith('share_') and k.endswith('m')]
    assert sum(shares) == pytest.approx(1.0)
    assert breakdown['share_moving'] + breakdown['share_static'] == pytest.approx(1.0)
    assert 'kitti_odometry_ate' not in results
    for key in ('constant_depth_abs_rel', 'skill_abs_rel_vs_ground_plane', 'dis_flow_epe',
                'skill_rpe_trans_per_m_vs_straight_ahead', 'all_static_mask_error'):
        assert key in synthetic
    assert synthetic['skill_abs_rel_vs_constant_depth'] == pytest.approx(
        synthetic['abs_rel'] / synthetic['constant_depth_abs_rel'], rel=1e-6)
    assert any(s.startswith('Depth (depth AbsRel') for s in synthetic['verdict'])
