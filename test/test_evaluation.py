"""Evaluation runners, reports and the rmdepth-eval CLI on short generated bags.

The ground-truth double `TruthEstimator` lives only here: it answers every frame with that
frame's own ground truth, so a correct evaluator must score it (near) perfectly.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from rmdepth_ros.bags.reader import BagSequence
from rmdepth_ros.bags.writer import write_bag
from rmdepth_ros.datasets.sequence import DataError
from rmdepth_ros.evaluation.cli import main as eval_main
from rmdepth_ros.evaluation.kitti_eigen import evaluate_kitti_eigen, read_test_files
from rmdepth_ros.evaluation.offline import run_offline
from rmdepth_ros.evaluation.output_bag import OutputBag
from rmdepth_ros.evaluation.report import write_report
from rmdepth_ros.evaluation.scoring import Scorer
from rmdepth_ros.evaluation.session import Session, sample_indices
from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

FRAMES = 6
# 2.5 Hz: the node answers every frame at the recorded rate even on a loaded 2-core machine
CONFIG = SynthConfig(width=64, height=32, frames=FRAMES, seed=5, fps=2.5)


class TruthEstimator:
    """Returns the ground truth of the frame with the given timestamp (test double)."""

    def __init__(self, frames: list) -> None:
        self.frames = {round(f.timestamp, 6): f for f in frames}
        self.previous = None

    def process(self, image, intrinsics, timestamp, compute_motion=True):
        frame = self.frames[round(timestamp, 6)]
        motion = None
        if self.previous is not None:
            motion = np.linalg.inv(self.previous.pose) @ frame.pose
        self.previous = frame
        return SimpleNamespace(depth=frame.depth, motion=motion, flow=frame.flow,
                               motion_mask=frame.motion_mask, timings={'total': 1.0})


@pytest.fixture(scope='module')
def gt_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bag(SyntheticSequence(CONFIG), tmp_path_factory.mktemp('bags') / 'gt')


@pytest.fixture(scope='module')
def bare_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same images and camera_info, no ground truth at all."""
    frames = [dataclasses.replace(f, depth=None, pose=None, flow=None, flow_valid=None,
                                  motion_mask=None, object_motion=None)
              for f in SyntheticSequence(CONFIG)]
    return write_bag(frames, tmp_path_factory.mktemp('bags') / 'bare')


def _valid_png(path: Path, min_side: int = 100) -> None:
    image = cv2.imread(str(path))
    assert image is not None, f'{path} is not a readable image'
    assert min(image.shape[:2]) >= min(min_side, 32) and image.shape[2] == 3


def test_offline_ground_truth_double_scores_perfectly(gt_bag: Path, tmp_path: Path) -> None:
    sequence = BagSequence(gt_bag)
    estimator = TruthEstimator(list(sequence))
    session = Session(Scorer(), bag=OutputBag(tmp_path / 'out_bag'),
                      samples_at=sample_indices(len(sequence)))
    run_offline(sequence, estimator, session, progress=False)
    session.bag.close()
    summary = write_report(session, tmp_path / 'report', {'input': str(gt_bag)})

    depth = summary['depth']['median_scaled']
    assert depth['abs_rel'] < 1e-6 and depth['a1'] == 1.0 and depth['rmse'] < 1e-4
    assert summary['depth']['unscaled']['abs_rel'] < 1e-6
    assert summary['depth']['median_scale'] == pytest.approx(1.0)
    traj = summary['trajectory']
    assert traj['ate_rmse'] < 1e-6 and traj['scale'] == pytest.approx(1.0, abs=1e-6)
    assert traj['rpe_trans_rmse'] < 1e-6 and traj['snippet_ate_mean'] < 1e-6
    assert summary['flow']['epe'] < 1e-6 and summary['flow']['fl_all'] == 0.0
    assert summary['motion_mask']['iou'] == pytest.approx(1.0)
    assert summary['skipped'] == {}
    assert summary['outputs']['depth'] == FRAMES and summary['outputs']['flow'] == FRAMES - 1

    report = tmp_path / 'report'
    text = (report / 'report.md').read_text()
    assert '| AbsRel | SqRel | RMSE | RMSlog | d1 | d2 | d3 |' in text
    for name in ('trajectory.png', 'errors_over_time.png', 'samples.png'):
        _valid_png(report / name)
    assert (report / 'metrics.json').is_file()
    # the output bag replays: its depth topic reads back as this run's (= the true) depth
    replay = BagSequence(tmp_path / 'out_bag', depth_topic='/rmdepth/depth',
                         flow_topic='/rmdepth/flow', mask_topic='/rmdepth/motion_mask',
                         odom_topic='')
    assert len(replay) == FRAMES
    first = next(iter(replay))
    np.testing.assert_array_equal(first.depth, next(iter(sequence)).depth)


def test_cli_without_ground_truth_says_what_was_skipped(bare_bag: Path, tiny_weights: Path,
                                                        tmp_path: Path, capsys) -> None:
    out = tmp_path / 'report'
    code = eval_main([str(bare_bag), '--out', str(out), '--weights', str(tiny_weights),
                      '--output-bag', str(tmp_path / 'out_bag'), '--no-progress'])
    assert code == 0
    said = capsys.readouterr().out
    for family, label in (('depth', 'depth'), ('flow', 'flow'), ('trajectory', 'pose')):
        assert f'skipped {family}: no ground-truth {label} in the input' in said
    text = (out / 'report.md').read_text()
    assert '## Skipped' in text and '## Latency' in text and 'throughput_fps' in text
    _valid_png(out / 'samples.png')
    _valid_png(out / 'errors_over_time.png')
    assert not (out / 'trajectory.png').exists()
    assert len(BagSequence(tmp_path / 'out_bag', image_topic='/camera/image_raw',
                           depth_topic='/rmdepth/depth', odom_topic='')) == FRAMES


def test_cli_missing_topics_and_inputs(gt_bag: Path, tiny_weights: Path, tmp_path: Path,
                                       capsys) -> None:
    base = ['--out', str(tmp_path / 'r'), '--weights', str(tiny_weights), '--no-progress']
    assert eval_main([str(gt_bag), '--gt-depth-topic', '/nope', *base]) == 1
    error = capsys.readouterr().err
    assert "topic '/nope' not in bag" in error and '/ground_truth/depth' in error
    assert eval_main([str(gt_bag), '--image-topic', '/ground_truth/odom', *base]) == 1
    assert 'expected sensor_msgs/msg/Image' in capsys.readouterr().err
    assert eval_main([str(tmp_path / 'missing'), *base]) == 1
    assert 'no such file or folder' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        eval_main(['--out', str(tmp_path / 'r')])  # no input


@pytest.mark.ros
def test_live_real_node_answers_every_frame(gt_bag: Path, tiny_weights: Path,
                                            tmp_path: Path) -> None:
    pytest.importorskip('rclpy')
    out = tmp_path / 'live'
    code = eval_main([str(gt_bag), '--mode', 'live', '--out', str(out), '--weights',
                      str(tiny_weights), '--output-bag', str(tmp_path / 'live_bag'),
                      '--no-progress'])  # the recorded rate, 2.5 Hz
    log = (out / 'node.log').read_text() if (out / 'node.log').exists() else ''
    assert code == 0, log
    import json

    summary = json.loads((out / 'metrics.json').read_text())
    assert summary['mode'] == 'live' and summary['inputs'] == FRAMES
    assert summary['outputs']['depth'] == FRAMES, log  # matched to inputs by stamp
    assert summary['outputs']['pose'] == FRAMES
    assert summary['outputs']['flow'] == FRAMES - 1  # the first frame has no flow
    assert summary['latency']['count'] == FRAMES
    assert 'depth' in summary and 'trajectory' in summary
    assert "first frame: 64x32, frame_id 'camera_optical_frame'" in log
    assert '/rmdepth_eval/camera/image_raw' in log  # played under its own namespace


# -- KITTI Eigen --------------------------------------------------------------------------------

def _fake_kitti(root: Path) -> Path:
    """One raw drive, 3 frames of 80x40, velodyne points on a wall 10..30 m away."""
    day = root / '2011_09_26'
    drive = day / '2011_09_26_drive_0002_sync'
    (drive / 'image_02' / 'data').mkdir(parents=True)
    (drive / 'velodyne_points' / 'data').mkdir(parents=True)
    (day / 'calib_cam_to_cam.txt').write_text(
        'R_rect_00: 1 0 0 0 1 0 0 0 1\nP_rect_00: 50 0 40 0 0 50 20 0 0 0 1 0\n'
        'P_rect_02: 50 0 40 0 0 50 20 0 0 0 1 0\n')
    # velodyne -> camera: cam x = -velo y, cam y = -velo z, cam z = velo x
    (day / 'calib_velo_to_cam.txt').write_text('R: 0 -1 0 0 0 -1 1 0 0\nT: 0 0 0\n')
    u, v = np.meshgrid(np.arange(0, 80, 2.0), np.arange(0, 40, 2.0))
    depth = 10.0 + 20.0 * v / 40.0
    x, y = (u - 40) * depth / 50, (v - 20) * depth / 50
    points = np.stack([depth, -x, -y, np.ones_like(x)], -1).reshape(-1, 4).astype(np.float32)
    rng = np.random.default_rng(0)
    for i in range(3):
        image = rng.integers(0, 255, (40, 80, 3), dtype=np.uint8)
        cv2.imwrite(str(drive / 'image_02' / 'data' / f'{i:010d}.png'), image)
        points.tofile(drive / 'velodyne_points' / 'data' / f'{i:010d}.bin')
    test_files = root / 'eigen_test_files.txt'
    test_files.write_text('2011_09_26/2011_09_26_drive_0002_sync 0000000000 l\n'
                          '2011_09_26/2011_09_26_drive_0002_sync 2 l\n')
    return test_files


def test_kitti_eigen_protocol_on_fake_layout(tmp_path: Path, tiny_weights: Path,
                                             capsys) -> None:
    test_files = _fake_kitti(tmp_path)
    assert read_test_files(test_files)[1] == ('2011_09_26/2011_09_26_drive_0002_sync',
                                              '0000000002', 2)
    from rmdepth_ros.datasets.kitti import KittiRawSequence

    drive = KittiRawSequence(tmp_path / '2011_09_26' / '2011_09_26_drive_0002_sync')
    frames = list(drive)
    assert np.isfinite(frames[0].depth).sum() > 50  # the fake scan does project into the image

    class ScaledTruth:  # twice the true depth: median scaling must undo it exactly
        def process(self, image, intrinsics, timestamp, compute_motion=True):
            frame = next(f for f in frames if f.timestamp == timestamp)
            return SimpleNamespace(depth=frame.depth * 2.0)

    result = evaluate_kitti_eigen(tmp_path, test_files, ScaledTruth(), progress=False)
    assert result['images'] == 2 and result['crop'] == 'garg'
    assert result['metrics']['abs_rel'] < 1e-6 and result['metrics']['a1'] == 1.0

    out = tmp_path / 'report'
    assert eval_main(['--mode', 'kitti-eigen', '--kitti-root', str(tmp_path), '--test-files',
                      str(test_files), '--weights', str(tiny_weights), '--out', str(out),
                      '--no-progress']) == 0
    printed = capsys.readouterr().out
    assert '| AbsRel | SqRel | RMSE | RMSlog | d1 | d2 | d3 |' in printed
    assert '2 images' in (out / 'report.md').read_text()

    bad = tmp_path / 'bad.txt'
    bad.write_text('2011_09_26/2011_09_26_drive_0002_sync 0000000009 l\n')
    with pytest.raises(DataError, match='0000000009 not found'):
        evaluate_kitti_eigen(tmp_path, bad, ScaledTruth(), progress=False)
    bad.write_text('just one field\n')
    with pytest.raises(DataError, match='bad.txt:1'):
        read_test_files(bad)


def test_cli_sets_the_localhost_dds_profile_when_unset(monkeypatch) -> None:
    from rmdepth_ros.evaluation.dds_env import ensure_localhost_dds

    for name in ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE', 'ROS_DISTRO'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'SUBNET')
    said = []
    ensure_localhost_dds(said.append)
    import os

    # Fast DDS 3 (the venv's Kilted wheels): FASTDDS_ only, FASTRTPS_ would warn
    assert os.environ['FASTDDS_DEFAULT_PROFILES_FILE'].endswith('config/fastdds_localhost.xml')
    assert 'FASTRTPS_DEFAULT_PROFILES_FILE' not in os.environ
    assert 'ROS_AUTOMATIC_DISCOVERY_RANGE' not in os.environ
    assert any('localhost-only DDS profile' in line for line in said)
    # Jazzy (Fast DDS 2) with the user's own profile under the Fast DDS 3 name: moved over
    monkeypatch.setenv('ROS_DISTRO', 'jazzy')
    ensure_localhost_dds(said.append)
    assert os.environ['FASTRTPS_DEFAULT_PROFILES_FILE'].endswith('config/fastdds_localhost.xml')
    assert 'FASTDDS_DEFAULT_PROFILES_FILE' not in os.environ
    assert 'is not what this Fast DDS reads' in said[-1]


def test_ground_truth_poses_from_tf(tmp_path: Path, tiny_weights: Path) -> None:
    """A bag whose only pose truth is /tf world -> camera: --gt-tf scores the trajectory."""
    from rosbags.rosbag2 import Reader, Writer

    from rmdepth_ros.bags import writer as bag_writer
    from rmdepth_ros.bags.layout import TF_TYPE, seconds_to_ns, typestore
    from rmdepth_ros.evaluation.tf_truth import PosedSequence, tf_camera_poses

    frames = list(SyntheticSequence(CONFIG))
    plain = write_bag([dataclasses.replace(f, pose=None) for f in frames], tmp_path / 'plain')
    bag = tmp_path / 'with_tf'
    store = typestore()
    with Reader(plain) as reader, Writer(bag, version=8) as writer:
        conns = {c.id: writer.add_connection(c.topic, c.msgtype, typestore=store)
                 for c in reader.connections}
        for conn, log_ns, raw in reader.messages():
            writer.write(conns[conn.id], log_ns, raw)
        tf_conn = writer.add_connection('/tf', TF_TYPE, typestore=store)
        for frame in frames:
            stamp = seconds_to_ns(frame.timestamp) + 3_000_000  # 3 ms off: nearest wins
            header = bag_writer.header_message(stamp, 'camera_optical_frame')
            message = bag_writer.tf_message(header, 'world', frame.pose)
            writer.write(tf_conn, stamp, store.serialize_cdr(message, TF_TYPE))

    sequence = BagSequence(bag)
    assert all(f.pose is None for f in sequence)
    poses = tf_camera_poses(bag, 'world:camera_optical_frame', sequence.topics.image,
                            sequence._stamps)
    np.testing.assert_allclose(poses[3], frames[3].pose, atol=1e-9)
    posed = PosedSequence(sequence, poses)
    session = Session(Scorer())
    run_offline(posed, TruthEstimator(list(posed)), session, progress=False)
    assert session.scorer.summary()['trajectory']['ate_rmse'] < 1e-6
    with pytest.raises(DataError, match='no world -> nowhere transforms'):
        tf_camera_poses(bag, 'world:nowhere', sequence.topics.image, sequence._stamps)
    out = tmp_path / 'report'
    assert eval_main([str(bag), '--gt-tf', 'world:camera_optical_frame', '--out', str(out),
                      '--weights', str(tiny_weights), '--no-progress']) == 0
    assert '"trajectory"' in (out / 'metrics.json').read_text()
