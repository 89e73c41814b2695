"""`rmdepth-eval scorecard`: the synthetic part end to end, and which real sets it picks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rmdepth_ros.evaluation.cli import main as eval_main
from rmdepth_ros.evaluation.scorecard_sets import available_sets


def test_scorecard_without_shared_data_scores_the_synthetic_part(
        tmp_path: Path, tiny_weights: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / 'card'
    code = eval_main(['scorecard', '--data', str(tmp_path / 'absent'), '--out', str(out),
                      '--weights', str(tiny_weights), '--seeds', '1', '--synthetic-frames', '5',
                      '--no-progress'])
    assert code == 0
    printed = capsys.readouterr().out
    assert 'absent: only the synthetic part is scored' in printed
    card = json.loads((out / 'scorecard.json').read_text())
    assert set(card['sets']) == {'synthetic', 'synthetic_static', 'synthetic_traffic',
                                 'synthetic_stop_go', 'synthetic_turn'}
    assert card['depth_source'] == 'fused'
    synthetic = card['sets']['synthetic']
    metrics = {(r['metric'], r['baseline']) for r in synthetic['comparison']}
    for expected in (('abs_rel', 'constant_depth'), ('abs_rel', 'ground_plane'),
                     ('snippet_ate_mean', 'straight_ahead'), ('snippet_ate_mean', 'zero_motion'),
                     ('snippet_ate_mean', 'classical_vo'), ('epe', 'zero_flow'),
                     ('epe', 'dis_flow'), ('mask_error', 'all_static'),
                     # fused depth: the depth network's own, scored beside it
                     ('abs_rel', 'network_depth')):
        assert expected in metrics
    static = {r['metric'] for r in card['sets']['synthetic_static']['comparison']}
    assert 'moving_fraction_static' in static and 'mask_error' not in static
    text = (out / 'scorecard.md').read_text()
    assert text.count('| synthetic, held-out seeds 2000-2000') >= 5
    assert '| set | metric | system | constant depth |' in text
    assert 'the system beats' in text or 'beats no baseline' in text
    assert 'real data' in card['skipped']


def test_scorecard_picks_the_real_sets_present(tmp_path: Path) -> None:
    (tmp_path / 'kitti_odometry_06').mkdir()
    sets, skipped = available_sets(tmp_path, 10, 2, 5)
    keys = [s.key for s in sets]
    assert keys == ['kitti_06', 'synthetic', 'synthetic_static', 'synthetic_traffic',
                    'synthetic_stop_go', 'synthetic_turn']
    assert sets[0].title == 'KITTI odometry 06 (training sequence)'
    assert set(skipped) == {'kitti_00', 'kitti_00_stereo', 'kitti_07', 'ddad'}
    assert 'seeds 2000-2001' in sets[1].title
    assert len(sets[1].open()) == 2 and len(sets[1].open()[0]) == 5


def test_scorecard_adds_the_kitti_00_stereo_set_when_its_depth_is_there(tmp_path: Path
                                                                        ) -> None:
    stereo = tmp_path / 'kitti_odometry_00' / 'depth_stereo'
    stereo.mkdir(parents=True)
    for i in range(12):
        (stereo / f'{i:06d}.png').touch()
    sets, skipped = available_sets(tmp_path, None, 1, 5)
    chosen = {s.key: s for s in sets}
    assert 'kitti_00_stereo' in chosen and 'kitti_00_stereo' not in skipped
    assert chosen['kitti_00_stereo'].title == 'KITTI 00 stereo (frames 0-11)'
    assert chosen['kitti_00_stereo'].max_depth == 80.0
    sets, _ = available_sets(tmp_path, 6, 1, 5)
    assert 'KITTI 00 stereo (frames 0-5)' in [s.title for s in sets]


def test_scorecard_rejects_too_few_frames(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        eval_main(['scorecard', '--frames', '3'])
    assert 'at least 5' in capsys.readouterr().err
