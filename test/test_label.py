"""`rmdepth-train label`: pseudo-labels from the geometry stage, written per frame, resumable."""

from __future__ import annotations

import json
from pathlib import Path
import warnings

import cv2
import numpy as np
import pytest
from rmdepth_training.cli import main as train_main
from rmdepth_training.label import read_label

from rmdepth_ros.evaluation.metrics import depth_metrics
from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

FRAMES = 14


@pytest.fixture(scope='module')
def video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        frames = list(SyntheticSequence(SynthConfig(width=320, height=96, frames=FRAMES,
                                                    seed=31, moving_cars_per_100m=0.0,
                                                    pedestrians_per_100m=0.0)))
    root = tmp_path_factory.mktemp('label') / 'drive'
    root.mkdir()
    for i, frame in enumerate(frames):
        cv2.imwrite(str(root / f'{i:04d}.png'), frame.image[:, :, ::-1])
    K = frames[0].intrinsics
    (root / 'intrinsics.yaml').write_text(
        f'fx: {K[0, 0]}\nfy: {K[1, 1]}\ncx: {K[0, 2]}\ncy: {K[1, 2]}\n')
    return root, frames


def _label(video_folder: Path, out: Path, *extra: str) -> int:
    return train_main(['label', str(video_folder), '--out', str(out), '--no-progress', *extra])


def test_labels_every_frame_and_resumes(video, tmp_path: Path, capsys) -> None:
    folder, frames = video
    out = tmp_path / 'labels'
    assert _label(folder, out) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary['frames'] == FRAMES and summary['written'] == FRAMES
    manifest = json.loads((out / 'manifest.json').read_text())
    assert manifest['depth_source'] == 'fused' and manifest['frames'] == FRAMES
    first, last = read_label(out / '000000.npz'), read_label(out / f'{FRAMES - 1:06d}.npz')
    assert first['depth'].shape == (96, 320) and np.isnan(first['motion']).all()
    assert float(first['observed']) == 0.0  # the first frame: the network's depth
    assert np.isfinite(last['motion']).all() and float(last['observed']) > 0.1
    assert last['moving'].dtype == bool and np.isfinite(last['confidence']).all()
    # measured pixels are more confident than the network's prior
    assert np.median(last['confidence']) < np.median(first['confidence'])
    truth = frames[-1].depth
    assert depth_metrics(np.where(np.isfinite(truth), truth, np.nan), last['depth']) is not None
    # an interrupted run: the last labels are missing (and a partial file lies around)
    for index in (FRAMES - 2, FRAMES - 1):
        (out / f'{index:06d}.npz').unlink()
    (out / f'{FRAMES - 1:06d}.partial.npz').write_bytes(b'cut short')
    stamp = (out / '000003.npz').stat().st_mtime_ns
    assert _label(folder, out) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert resumed['written'] == 2 and resumed['started_at'] == FRAMES - 2 - 10
    assert (out / f'{FRAMES - 1:06d}.npz').is_file()
    assert (out / '000003.npz').stat().st_mtime_ns == stamp  # existing labels untouched
    again = read_label(out / f'{FRAMES - 1:06d}.npz')
    assert float(again['observed']) > 0.1


def test_a_folder_of_other_labels_is_refused(video, tmp_path: Path, capsys) -> None:
    folder, _ = video
    out = tmp_path / 'labels'
    out.mkdir()
    (out / 'manifest.json').write_text(json.dumps({'format': 1, 'model_id': 'another',
                                                   'resize': 'crop'}))
    assert _label(folder, out) == 2
    error = capsys.readouterr().err.strip()
    assert '\n' not in error and 'model_id' in error and 'another --out' in error
    assert not list(out.glob('*.npz'))


def test_bad_source_is_one_line(tmp_path: Path, capsys) -> None:
    assert _label(tmp_path / 'nowhere', tmp_path / 'labels') == 2
    error = capsys.readouterr().err.strip()
    assert '\n' not in error and 'no such file or folder' in error


# -- pseudo-labels in training --------------------------------------------------------------

def test_pseudo_label_loss_is_scale_blind_and_weighted() -> None:
    from rmdepth_training.pseudo_labels import pseudo_label_loss
    import torch

    label = torch.rand(2, 1, 8, 16) * 20 + 1
    weight = torch.ones_like(label)
    assert float(pseudo_label_loss(label * 3.0, label, weight)) < 1e-3  # any scale
    wrong = label.clone()
    wrong[..., :4] *= 2.0  # half of the image twice as far
    assert float(pseudo_label_loss(wrong, label, weight)) > 0.2
    # the wrong half weighs nothing: the loss sees only the right half
    weight[..., :4] = 0.0
    assert float(pseudo_label_loss(wrong, label, weight)) < 1e-3
    assert float(pseudo_label_loss(wrong, label, torch.zeros_like(weight))) == 0.0


def test_labels_ride_along_real_frames_at_the_network_size(video, tmp_path: Path) -> None:
    from rmdepth_training.config import AugmentConfig, DataConfig
    from rmdepth_training.datasets import RealTriplets, TrainStream

    from rmdepth_ros.datasets.sequence import DataError

    folder, _ = video
    labels = tmp_path / 'labels'
    assert _label(folder, labels) == 0
    source = RealTriplets((str(folder),), 1, (str(labels),))
    data = DataConfig(kind='synthetic', width=160, height=48)
    stream = TrainStream(source, data, AugmentConfig(), seed=3)
    sample = stream[source.length - 1]
    assert sample['pl_depth'].shape == (1, 48, 160) and sample['pl_weight'].shape == (1, 48, 160)
    assert float(sample['pl_weight'].max()) > 0 and float(sample['gt_valid']) == 0.0
    measured = sample['pl_weight'] > 0
    assert bool((sample['pl_depth'][measured] > 0).all())
    # a missing label: that frame trains without one, and is counted
    (labels / '000005.npz').unlink()
    item = source.items.index((str(folder), 5))
    assert source.sample(item, np.random.default_rng(0)).truth is None
    assert source.missing_labels == 1
    with pytest.raises(DataError, match='not a label folder'):
        RealTriplets((str(folder),), 1, (str(tmp_path),))
    with pytest.raises(DataError, match='one per sequence'):
        RealTriplets((str(folder),), 1, (str(labels), str(labels)))


def test_labels_of_another_size_or_zero_confidence(video, tmp_path: Path) -> None:
    from rmdepth_training.pseudo_labels import label_maps

    from rmdepth_ros.datasets.sequence import DataError

    path = tmp_path / 'x.npz'
    depth = np.full((4, 6), 5.0, np.float32)
    np.savez(path, depth=depth, confidence=np.zeros_like(depth), moving=np.zeros((4, 6), bool),
             motion=np.eye(4), intrinsics=np.eye(3))
    maps = label_maps(str(path), (6, 4))
    assert not maps['pl_weight'].any()  # sigma 0 claims a certainty nothing has: no label
    with pytest.raises(DataError, match='another camera size'):
        label_maps(str(path), (12, 8))


def test_config_needs_labels_for_the_pseudo_depth_loss() -> None:
    from rmdepth_training.config import ConfigError, build_config

    with pytest.raises(ConfigError, match='loss.pseudo_depth'):
        build_config(None, ['loss.pseudo_depth=0.5'])
    with pytest.raises(ConfigError, match='data.real_labels'):
        build_config(None, ['data.real_sequences=[a, b]', 'data.real_labels=[c]',
                            'data.real_fraction=0.5'])
