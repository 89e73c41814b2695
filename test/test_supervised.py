"""Supervised warm start: ground truth of synthetic triplets and the supervised loss terms."""

import math

import numpy as np
from rmdepth_training.augment import flip_intrinsics
from rmdepth_training.config import DataConfig, LossConfig
from rmdepth_training.supervised import (
    SILOG_LAMBDA,
    rotation_angle,
    silog_loss,
    supervised_losses,
)
from rmdepth_training.synthetic_triplets import SyntheticTriplets
from rmdepth_training.triplets import flip_truth
import torch

from rmdepth_ros.model.geometry import optical_flow


def _rot_y(degrees):
    a = math.radians(degrees)
    return torch.tensor([[math.cos(a), 0, math.sin(a)], [0, 1, 0],
                         [-math.sin(a), 0, math.cos(a)]], dtype=torch.float64)


def test_rotation_angle_is_accurate_for_tiny_rotations():
    for degrees in (0.005, 0.5, 30.0):
        angle = rotation_angle(_rot_y(degrees), torch.eye(3, dtype=torch.float64))
        assert abs(math.degrees(float(angle)) - degrees) < 0.1 * degrees


def test_silog_is_zero_for_the_truth_and_grows_with_error():
    truth = torch.rand(2, 1, 8, 8) * 20 + 1
    valid = truth > 0
    assert float(silog_loss(truth, truth, valid)) < 1e-3
    noisy = truth * torch.exp(0.3 * torch.randn_like(truth))
    assert float(silog_loss(noisy, truth, valid)) > 0.1
    # A global factor c costs only sqrt(1 - lambda) |log c| (lambda = 0.85: 0.39 |log c|).
    expected = math.sqrt(1 - SILOG_LAMBDA) * math.log(2.0)
    assert abs(float(silog_loss(truth * 2, truth, valid)) - expected) < 1e-4


def _batch(sample_truth, K):
    batch = {k: torch.from_numpy(np.ascontiguousarray(v))[None] for k, v in sample_truth.items()}
    return batch, torch.from_numpy(K).float()[None]


def _outputs_from_truth(batch):
    """Network outputs that equal the truth: depth, T, object motion in the source frame."""
    T = batch['gt_T'].float()
    R = T[:, 0, :3, :3]
    # object_motion_to_current_frame gives -R^T obj, so obj = -R current.
    obj = -torch.einsum('bij,bjhw->bihw', R, batch['gt_object'].float())
    depth = torch.where(batch['gt_depth'] > 0, batch['gt_depth'], torch.full_like(
        batch['gt_depth'], 50.0)).float()
    return {'depth': depth, 'T': T, 'object_motion': torch.stack([obj, torch.zeros_like(obj)], 1),
            'object_motion_valid': torch.tensor([True, False])}


def test_truth_of_a_synthetic_triplet_is_consistent_with_the_geometry_also_flipped():
    source = SyntheticTriplets(DataConfig(width=64, height=32, synth_frames=3))
    sample = source.sample(0, np.random.default_rng(3))
    truth = sample.truth
    assert truth['gt_valid'] == 1 and truth['gt_flow_valid'].mean() > 0.5
    for t, K in ((truth, sample.K), (flip_truth(truth), flip_intrinsics(sample.K, 64))):
        batch, Kt = _batch(t, K)
        outputs = _outputs_from_truth(batch)
        flow, inside = optical_flow(outputs['depth'], Kt, outputs['T'][:, 0],
                                    outputs['object_motion'][:, 0])
        use = (batch['gt_flow_valid'] > 0) & (batch['gt_depth'] > 0) & inside
        epe = (flow - batch['gt_flow']).norm(dim=1, keepdim=True)[use]
        assert use.sum() > 200 and float(epe.median()) < 0.05
        total, parts = supervised_losses(outputs, batch, Kt, LossConfig(supervised=1.0))
        assert float(parts['sup_rotation']) < 1e-3 and float(parts['sup_translation']) < 1e-4
        assert float(parts['sup_depth']) < 1e-3 and float(parts['sup_object']) < 1e-4


def test_static_and_reversed_samples_carry_identity_and_inverse_motion():
    static = SyntheticTriplets(DataConfig(width=32, height=16, synth_frames=3, static_prob=1.0))
    s = static.sample(0, np.random.default_rng(0))
    assert np.array_equal(s.images[0], s.images[1])
    assert np.allclose(s.truth['gt_T'][0], np.eye(4), atol=1e-6)
    assert s.truth['gt_flow_valid'].all() and not s.truth['gt_flow'].any()
    plain = SyntheticTriplets(DataConfig(width=32, height=16, synth_frames=3))
    backwards = SyntheticTriplets(DataConfig(width=32, height=16, synth_frames=3,
                                             reverse_prob=1.0))
    a = plain.sample(0, np.random.default_rng(5)).truth['gt_T']
    b = backwards.sample(0, np.random.default_rng(5)).truth['gt_T']
    assert np.allclose(b[0], a[1], atol=1e-5) and np.allclose(b[1], a[0], atol=1e-5)
    assert not backwards.sample(0, np.random.default_rng(5)).truth['gt_flow_valid'].any()


def test_no_truth_switches_the_supervised_terms_off():
    from rmdepth_training.triplets import no_truth

    batch = {k: torch.from_numpy(v)[None] for k, v in no_truth(8, 8).items()}
    outputs = {'depth': torch.ones(1, 1, 8, 8), 'T': torch.eye(4).repeat(1, 2, 1, 1)}
    total, parts = supervised_losses(outputs, batch, torch.eye(3)[None],
                                     LossConfig(supervised=1.0))
    assert float(total) == 0.0 and parts == {}
