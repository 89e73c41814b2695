"""Adaptation to a user's camera (issue 18): the offline `rmdepth-train adapt` command and the
online engine, on TINY random weights and small synthetic frames (seconds, no ROS)."""

import dataclasses
from pathlib import Path
import warnings

import cv2
import numpy as np
import pytest
import torch

pytest.importorskip('rmdepth_training')

from rmdepth_training.adapt_frames import (  # noqa: E402
    SourceError,
    label_clip,
    load_clip,
    moving_targets,
    split_held_out,
)
from rmdepth_training.adapt_model import Adapter, adaptation_config  # noqa: E402
from rmdepth_training.adapt_offline import main as adapt_main  # noqa: E402
from rmdepth_training.adapt_online import OnlineAdapter, OnlineSettings  # noqa: E402

from rmdepth_ros.model.weights import load_weights, read_metadata  # noqa: E402
from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence  # noqa: E402

SIZE = (64, 32)


def _frames(count: int, seed: int = 5) -> list:
    sequence = SyntheticSequence(SynthConfig(width=SIZE[0], height=SIZE[1], frames=count,
                                             seed=seed))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        return [sequence[i] for i in range(count)]


def _folder(root: Path, frames: list, intrinsics: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(root / f'{i:04d}.png'), frame.image[:, :, ::-1])
    if intrinsics:
        K = frames[0].intrinsics
        (root / 'intrinsics.yaml').write_text(
            f'fx: {K[0, 0]}\nfy: {K[1, 1]}\ncx: {K[0, 2]}\ncy: {K[1, 2]}\n')
    return root


@pytest.fixture(scope='module')
def moving_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _folder(tmp_path_factory.mktemp('adapt') / 'drive', _frames(12))


def test_frozen_motion_trains_depth_only(tiny_weights: Path, moving_folder: Path) -> None:
    model, _ = load_weights(tiny_weights)
    clip = load_clip(str(moving_folder), SIZE)
    adapter = Adapter(model, adaptation_config(lr=1e-3, supervised=0.0), 'depth')
    batch = _clip_batch(clip, [1, 2])
    motion_before = {k: v.clone() for k, v in adapter.model.motion_net.state_dict().items()}
    depth_before = {k: v.clone() for k, v in adapter.model.depth_net.state_dict().items()}
    adapter.step(batch)
    assert all(torch.equal(v, adapter.model.motion_net.state_dict()[k])
               for k, v in motion_before.items())
    assert any(not torch.equal(v, adapter.model.depth_net.state_dict()[k])
               for k, v in depth_before.items() if v.is_floating_point())
    # The caller's model is never modified.
    assert all(torch.equal(v, model.depth_net.state_dict()[k]) for k, v in depth_before.items())


def test_anchor_pulls_the_adapted_weights_back_towards_the_start(tiny_weights: Path,
                                                                 moving_folder: Path) -> None:
    """adapt_anchor (L2-SP, decoupled): after the same update, an anchored adapter's depth
    weights lie the anchor's share nearer their starting values; 0 leaves the update alone."""
    model, _ = load_weights(tiny_weights)
    clip = load_clip(str(moving_folder), SIZE)
    batch = _clip_batch(clip, [1, 2])
    moved = {}
    for anchor in (0.0, 0.5):
        torch.manual_seed(0)
        adapter = Adapter(model, adaptation_config(lr=1e-3, supervised=0.0), 'depth',
                          anchor=anchor)
        adapter.step(batch)
        moved[anchor] = torch.cat([(p.detach() - q).flatten() for p, q in zip(
            adapter.model.depth_net.parameters(), model.depth_net.parameters(), strict=True)])
    assert float(moved[0.0].abs().max()) > 0
    torch.testing.assert_close(moved[0.5], 0.5 * moved[0.0], rtol=1e-4, atol=1e-7)
    with pytest.raises(ValueError, match='adapt_anchor'):
        Adapter(model, adaptation_config(lr=1e-3), 'depth', anchor=1.0)


def test_helper_motion_trains_but_is_never_handed_out(tiny_weights: Path,
                                                     moving_folder: Path) -> None:
    model, _ = load_weights(tiny_weights)
    clip = load_clip(str(moving_folder), SIZE)
    adapter = Adapter(model, adaptation_config(lr=1e-3, supervised=0.0), 'depth',
                      motion='helper')
    adapter.step(_clip_batch(clip, [1, 2]))
    start = model.motion_net.state_dict()
    assert any(not torch.equal(v, adapter.model.motion_net.state_dict()[k])
               for k, v in start.items() if v.is_floating_point())
    adapted = adapter.adapted(model)
    assert all(torch.equal(v, adapted.motion_net.state_dict()[k]) for k, v in start.items())
    assert all(torch.equal(v, adapted.depth_net.state_dict()[k])
               for k, v in adapter.model.depth_net.state_dict().items())


def test_decoder_part_keeps_the_encoder(tiny_weights: Path, moving_folder: Path) -> None:
    model, _ = load_weights(tiny_weights)
    clip = load_clip(str(moving_folder), SIZE)
    adapter = Adapter(model, adaptation_config(lr=1e-3, supervised=0.0), 'decoder')
    before = {k: v.clone() for k, v in adapter.model.depth_net.encoder.state_dict().items()}
    adapter.step(_clip_batch(clip, [1, 2]))
    assert all(torch.equal(v, adapter.model.depth_net.encoder.state_dict()[k])
               for k, v in before.items())


def test_static_triplets_are_skipped_and_held_out_is_disjoint(moving_folder: Path) -> None:
    clip = load_clip(str(moving_folder), SIZE)
    moving, static = moving_targets(clip)
    assert static == 0 and moving == list(range(1, 11))
    train, held = split_held_out(moving, 0.2)
    assert held == [9, 10]
    assert max(train) + 2 < min(held)  # no training triplet shares a frame with a held one


@pytest.mark.parametrize('case', ['missing', 'no_intrinsics', 'one_frame', 'static',
                                  'unreadable'])
def test_bad_sources_exit_2_with_one_line(tmp_path: Path, tiny_weights: Path, case: str,
                                          capsys: pytest.CaptureFixture) -> None:
    frames = _frames(4)
    source = tmp_path / case
    if case == 'no_intrinsics':
        _folder(source, frames, intrinsics=False)
    elif case == 'one_frame':
        _folder(source, frames[:1])
    elif case == 'static':
        _folder(source, [frames[0]] * 5)
    elif case == 'unreadable':
        _folder(source, frames)
        (source / '0002.png').write_bytes(b'not a png')
    status = adapt_main([str(source), '--out', str(tmp_path / 'out.safetensors'),
                         '--weights', str(tiny_weights), '--minutes', '0.01'])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and err[0].startswith('rmdepth-train adapt: error:')
    assert not (tmp_path / 'out.safetensors').exists()


def test_offline_adapt_writes_only_an_improvement_with_lineage(
        tmp_path: Path, tiny_weights: Path, moving_folder: Path,
        capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / 'adapted.safetensors'
    status = adapt_main([str(moving_folder), '--out', str(out), '--weights', str(tiny_weights),
                         '--minutes', '0.15', '--val-every', '1', '--replay', '0.25',
                         '--batch', '2', '--lr', '1e-3', '--no-progress', '--device', 'cpu'])
    text = capsys.readouterr().out
    assert 'before: held-back validation score' in text
    assert 'pseudo-labels for 12 of 12 frames' in text  # labelled first, by the start weights
    if status == 0:
        meta = read_metadata(out)
        assert 'adapted to drive' in meta['trained_on']
        assert 'started from tiny.safetensors' in meta['trained_on']
        assert 'after:' in text
        load_weights(out)  # a valid weights file
    else:  # random TINY weights may not improve within the budget: then nothing is written
        assert status == 1 and not out.exists() and 'not written' in text


def test_online_adapter_swaps_atomically_and_reverts(tiny_weights: Path) -> None:
    model, _ = load_weights(tiny_weights)
    inference_depth = model.depth_net
    settings = OnlineSettings(batch=2, min_triplets=2, validate_every=1, held_out_every=3,
                              lr=1e-3)
    engine = OnlineAdapter(model, settings)
    frames = _frames(12)
    for i, frame in enumerate(frames):
        engine.observe(frame.image, frame.intrinsics, reset=(i == 0))
    assert engine.diagnostics()['adapt_buffer'].startswith('7 train + 3 held back')
    outcomes = set()
    for _ in range(4):
        engine.step(engine._batch())
        outcomes.add(engine.validate())
    assert engine.stats['steps'] == 4
    if engine.stats['swaps']:
        assert model.depth_net is not inference_depth  # swapped by reference
        assert not model.depth_net.training
    # A diverged candidate (non-finite weights) is reverted to the last good weights, and the
    # estimator keeps what it had.
    with torch.no_grad():
        for parameter in engine.adapter.model.depth_net.decoder.parameters():
            parameter.fill_(float('nan'))
    swapped = model.depth_net
    assert engine.validate() == 'reverted'
    assert engine.stats['reverts'] >= 1 and model.depth_net is swapped
    good = engine._good.model.depth_net.state_dict()
    assert all(torch.equal(v, engine.adapter.model.depth_net.state_dict()[k])
               for k, v in good.items())


def test_online_batches_replay_synthetic_truth(tiny_weights: Path) -> None:
    model, _ = load_weights(tiny_weights)
    engine = OnlineAdapter(model, OnlineSettings(batch=4, min_triplets=2, replay=0.25))
    assert engine.adapter.cfg.loss.supervised > 0  # the replayed truth is used
    for i, frame in enumerate(_frames(8)):
        engine.observe(frame.image, frame.intrinsics, reset=(i == 0))
    batch = engine._batch()
    # three of the camera's triplets without truth, one fresh synthetic one with exact truth,
    # all at the camera's network size
    assert batch['images'].shape == (4, 3, 3, SIZE[1], SIZE[0])
    assert batch['gt_valid'].flatten().tolist() == [0.0, 0.0, 0.0, 1.0]
    assert batch['gt_depth'].shape == (4, 1, SIZE[1], SIZE[0])
    assert float((batch['gt_depth'][3] > 0).float().mean()) > 0.5  # 0: sky, no truth
    assert float(batch['gt_depth'][:3].abs().max()) == 0
    engine.step(batch)
    assert engine.stats['steps'] == 1 and np.isfinite(engine.stats['last_loss'])
    assert engine.stats['synthetic_replayed'] == 1
    # the next batch replays a different synthetic triplet
    assert not torch.equal(engine._batch()['images'][3], batch['images'][3])
    # no replay: the camera's frames only, no supervised terms
    plain = OnlineAdapter(model, OnlineSettings(batch=2, min_triplets=2, replay=0.0))
    assert plain.adapter.cfg.loss.supervised == 0
    for i, frame in enumerate(_frames(6)):
        plain.observe(frame.image, frame.intrinsics, reset=(i == 0))
    assert plain._batch()['gt_valid'].sum() == 0
    with pytest.raises(ValueError, match='adapt_replay'):
        OnlineAdapter(model, OnlineSettings(batch=1, replay=0.25))


def test_online_memory_is_bounded(tiny_weights: Path) -> None:
    model, _ = load_weights(tiny_weights)
    engine = OnlineAdapter(model, OnlineSettings(buffer=5, held_out=2))
    frames = _frames(6)
    for i in range(60):
        frame = frames[i % 6]
        engine.observe(frame.image, frame.intrinsics, reset=False)
    assert len(engine._train) <= 5 and len(engine._held) <= 2


def test_online_background_thread_takes_steps(tiny_weights: Path) -> None:
    model, _ = load_weights(tiny_weights)
    engine = OnlineAdapter(model, OnlineSettings(batch=2, min_triplets=2, budget=1.0))
    for i, frame in enumerate(_frames(10)):
        engine.observe(frame.image, frame.intrinsics, reset=(i == 0))
    engine.start()
    try:
        for _ in range(100):
            if engine.stats['steps'] >= 2:
                break
            torch.set_num_threads(torch.get_num_threads())
            engine._stop.wait(0.1)
    finally:
        engine.stop()
    assert engine.stats['steps'] >= 2


def _clip_batch(clip, targets: list[int]) -> dict:
    images = np.stack([clip.images[t - 1:t + 2] for t in targets]).astype(np.float32) / 255.0
    tensor = torch.from_numpy(images.transpose(0, 1, 4, 2, 3).copy())
    K = torch.from_numpy(np.stack([clip.K] * len(targets)).astype(np.float32))
    return {'images': tensor, 'images_aug': tensor, 'K': K,
            'index': torch.arange(len(targets))}


def test_range_and_too_short_range(moving_folder: Path) -> None:
    assert len(load_clip(str(moving_folder), SIZE, frames=(2, 8)).images) == 6
    with pytest.raises(SourceError, match='at least 3'):
        load_clip(str(moving_folder), SIZE, frames=(10, 20))


def test_offline_labels_ride_along_with_their_triplets(tiny_weights: Path,
                                                        moving_folder: Path) -> None:
    """label_clip with a fused labeller: each frame's fused depth on the clip's network grid;
    a clip triplet carries its target frame's label, a clip without labels none."""
    from rmdepth_training.adapt_frames import ClipTriplets

    from rmdepth_ros.inference import Estimator

    model, metadata = load_weights(tiny_weights)
    labeller = Estimator(model=model, metadata=metadata, device='cpu', depth_source='fused')
    calls = []
    clip = load_clip(str(moving_folder), SIZE)
    plain = load_clip(str(moving_folder), SIZE)
    label_clip(clip, labeller, progress=lambda: calls.append(1))
    assert len(calls) == 12 and len(clip.labels) == 12
    depth, sigma, moving = clip.labels[5]
    assert depth.shape == sigma.shape == moving.shape == (SIZE[1], SIZE[0])
    assert np.isfinite(depth.astype(np.float32)).mean() > 0.9
    rng = np.random.default_rng(0)
    sample = ClipTriplets([clip], [[5]]).sample(0, rng)
    assert sample.truth['pl_depth'].shape == (1, SIZE[1], SIZE[0])
    weighted = sample.truth['pl_weight'] > 0
    assert weighted.any() and np.all(sample.truth['pl_depth'][weighted] > 0)
    assert sample.truth['gt_valid'] == 0  # no exact truth: a real frame
    assert plain.labels is None
    assert ClipTriplets([plain], [[5]]).sample(0, rng).truth is None


def test_online_learns_from_the_estimators_fused_depth(tiny_weights: Path) -> None:
    """The estimator hands the adapter each frame's fused depth (depth_source 'fused'); the
    engine's batches and held-back validation carry it, a mirrored sample a mirrored label,
    and the validation score includes the label term."""
    from rmdepth_training.adapt_model import validation_score

    from rmdepth_ros.inference import Estimator

    model, metadata = load_weights(tiny_weights)
    estimator = Estimator(model=model, metadata=metadata, device='cpu', backend='torch',
                          depth_source='fused')
    engine = OnlineAdapter(model, OnlineSettings(batch=2, min_triplets=2, replay=0.0,
                                                 held_out_every=3, pseudo_depth=1.0))
    assert engine.adapter.cfg.loss.pseudo_depth == 1.0
    estimator.observer = engine.observe
    for frame in _frames(10):
        estimator.process(frame.image, frame.intrinsics, frame.timestamp)
    assert all(t.label is not None for t in engine._train)
    batch = engine._batch()
    assert batch['pl_weight'].shape == (2, 1, SIZE[1], SIZE[0])
    assert bool((batch['pl_weight'] > 0).any())
    held = engine._held_batch()
    assert float(held['pl_weight'].sum()) > 0
    photometric_only = dataclasses.replace(engine.adapter.cfg.loss, pseudo_depth=0.0)
    assert validation_score(engine._good, held, engine.adapter.cfg.loss, 'cpu') > \
        validation_score(engine._good, held, photometric_only, 'cpu')
    engine.step(batch)
    assert np.isfinite(engine.stats['last_loss'])
    # mirrored: the label follows the frames
    triplet = engine._train[0]
    truth = engine._truth(triplet)
    from rmdepth_training.triplets import flip_truth

    assert np.array_equal(flip_truth(truth)['pl_depth'][..., ::-1], truth['pl_depth'])
    # depth_source 'network': no label, the photometric loss alone
    network = Estimator(model=model, metadata=metadata, device='cpu', backend='torch',
                        depth_source='network')
    seen = []
    network.observer = lambda image, K, reset, label: seen.append(label)
    frame = _frames(2)[1]
    network.process(frame.image, frame.intrinsics, frame.timestamp)
    assert seen == [None]
    with pytest.raises(ValueError, match='adapt_pseudo_depth'):
        OnlineAdapter(model, OnlineSettings(pseudo_depth=-1.0))
