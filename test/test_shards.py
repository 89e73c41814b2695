"""Pre-rendered synthetic shards: what they store, the triplets cut from them, a training step."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from rmdepth_training.config import DataConfig
from rmdepth_training.shards import SHARD_SEED_OFFSET, ShardTriplets, write_shard
from rmdepth_training.synthetic_triplets import draw_step, pick_triplet
from rmdepth_training.train import train
from test_training import tiny_config
import torch

from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

DATA = DataConfig(width=64, height=32, synth_frames=5, frame_step_max=2, reverse_prob=0.3,
                  static_prob=0.2, synth_motion='diverse', num_workers=0, val_sequences=0)

torch.set_num_threads(1)


@pytest.fixture(scope='module')
def shard(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('shards') / 'tiny.npz')
    stats = write_shard(path, DATA, 2, SHARD_SEED_OFFSET)
    assert stats['sequences'] == 2 and stats['frames'] == 10 and stats['bytes'] > 0
    return path


def _live(seed: int) -> SyntheticSequence:
    return SyntheticSequence(SynthConfig(width=64, height=32, frames=5, seed=seed,
                                         motion='diverse'))


def test_shard_frames_equal_the_rendered_frames(shard):
    source = ShardTriplets([shard], DATA)
    assert source.sequences == 2 and source.length == 10
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        live = _live(SHARD_SEED_OFFSET + 1)
        for i in (0, 3):
            want, got = live[i], source.frame(1, i)
            np.testing.assert_array_equal(got.image, want.image)
            np.testing.assert_array_equal(got.pose, want.pose)
            finite = np.isfinite(want.depth) & (want.depth < 1000)
            np.testing.assert_allclose(got.depth[finite], want.depth[finite], rtol=1e-3)
            if i:
                ok = want.flow_valid
                np.testing.assert_array_equal(got.flow_valid, ok)
                np.testing.assert_allclose(got.flow[ok], want.flow[ok], atol=0.02, rtol=1e-3)


def test_triplets_from_a_shard_match_live_rendering(shard):
    source = ShardTriplets([shard], DATA)
    for n in range(6):
        got = source.sample(n, np.random.default_rng(n))
        rng = np.random.default_rng(n)
        sequence = int(rng.integers(2))
        step = draw_step(DATA, rng)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)
            want = pick_triplet(_live(SHARD_SEED_OFFSET + sequence).__getitem__, 5, step, DATA,
                                rng)
        for a, b in zip(got.images, want.images, strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(got.truth['gt_T'], want.truth['gt_T'], atol=1e-6)
        np.testing.assert_allclose(got.truth['gt_depth'], want.truth['gt_depth'], rtol=1e-3)
        np.testing.assert_allclose(got.truth['gt_flow'], want.truth['gt_flow'], atol=0.02,
                                   rtol=1e-3)
        np.testing.assert_array_equal(got.truth['gt_flow_valid'], want.truth['gt_flow_valid'])


def test_a_shard_of_another_size_is_refused(shard):
    with pytest.raises(ValueError, match='64x32'):
        ShardTriplets([shard], dataclasses.replace(DATA, width=128))


def test_one_training_step_from_the_shard(shard, tmp_path):
    data = dataclasses.replace(DATA, shards=(shard,), shard_fraction=1.0, epoch_samples=8)
    summary = train(tiny_config(tmp_path, data=data, optim__max_steps=1))
    assert summary['step'] == 1
    assert np.isfinite(summary['scalars']['loss'])
