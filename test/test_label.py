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
