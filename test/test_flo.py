"""Middlebury .flo files and the exact conversion of forward flow to our flow convention."""

from pathlib import Path
import struct

import numpy as np
import pytest

from rmdepth_ros.datasets.flo import read_flo, write_flo
from rmdepth_ros.datasets.flow_convert import forward_to_ours
from rmdepth_ros.datasets.sequence import DataError
from rmdepth_ros.synth.flow import motion_truth
from rmdepth_ros.synth.sequence import generate


def test_flo_bytes_and_round_trip(tmp_path: Path) -> None:
    flow = np.array([[[1.5, -2.0], [np.nan, 3.0]]], np.float32)  # 2 wide, 1 high
    path = write_flo(tmp_path / 'a.flo', flow)
    data = path.read_bytes()
    assert data[:4] == b'PIEH' and struct.unpack('<f', data[:4])[0] == 202021.25
    assert struct.unpack('<ii', data[4:12]) == (2, 1)
    assert struct.unpack('<4f', data[12:]) == (1.5, -2.0, 1e10, 1e10)  # NaN -> unknown
    back = read_flo(path)
    assert back.shape == (1, 2, 2) and back.dtype == np.float32
    np.testing.assert_array_equal(back, [[[1.5, -2.0], [np.nan, np.nan]]])
    big = np.random.default_rng(0).normal(0, 20, (7, 11, 2)).astype(np.float32)
    np.testing.assert_array_equal(read_flo(write_flo(tmp_path / 'b.flo', big)), big)


@pytest.mark.parametrize('content, message', [
    (b'', 'not a .flo file'),
    (b'PIEX' + struct.pack('<ii', 1, 1) + bytes(8), 'not a .flo file'),
    (b'PIEH' + struct.pack('<ii', 0, 5), 'implausible size 0x5'),
    (b'PIEH' + struct.pack('<ii', 2, 2) + bytes(24), '36 bytes, expected 44 for a 2x2 flow'),
])
def test_bad_flo_files_raise_one_error_naming_the_file(tmp_path: Path, content, message) -> None:
    path = tmp_path / 'bad.flo'
    path.write_bytes(content)
    with pytest.raises(DataError, match=f'bad.flo: {message}'):
        read_flo(path)
    with pytest.raises(DataError, match='missing.flo: file not found'):
        read_flo(tmp_path / 'missing.flo')
    with pytest.raises(ValueError, match=r'flow must be \(H, W, 2\)'):
        write_flo(tmp_path / 'x.flo', np.zeros((3, 3)))


def test_translation_converts_exactly_and_disocclusions_are_nan() -> None:
    forward = np.zeros((6, 10, 2), np.float32)
    forward[..., 0], forward[..., 1] = 2.5, -1.25
    flow, valid = forward_to_ours(forward)
    # Frame-2 pixel q came from q - (2.5, -1.25): inside frame 1 only for x >= 2.5, y <= 3.75.
    expected = np.zeros((6, 10), bool)
    expected[:4, 3:] = True
    np.testing.assert_array_equal(valid, expected)
    np.testing.assert_allclose(flow[valid], np.tile([2.5, -1.25], (valid.sum(), 1)), atol=1e-6)
    assert np.isnan(flow[~valid]).all()


def test_larger_flow_wins_where_two_points_land_on_one_pixel() -> None:
    forward = np.full((1, 8, 2), np.nan, np.float32)
    forward[0, 0] = (4.0, 0.0)   # lands on x = 4 (a near, fast point)
    forward[0, 3] = (1.0, 0.0)   # also lands on x = 4 (a far, slow point)
    flow, valid = forward_to_ours(forward)
    assert np.flatnonzero(valid[0]).tolist() == [4]
    np.testing.assert_allclose(flow[0, 4], (4.0, 0.0))


def test_a_synthetic_pair_reproduces_the_ground_truth_flow() -> None:
    """Forward flow of frame 0 -> 1 (the exact projection of frame 0's points, all of them,
    occluded or not), converted, matches the synthetic world's flow of frame 1 where defined."""
    frames = generate(frames=2, width=160, height=48, seed=3, moving_cars_per_100m=0.0,
                      pedestrians_per_100m=0.0)
    first, second = frames
    assert not second.motion_mask.any()
    cur_from_prev = np.linalg.inv(second.pose) @ first.pose
    # motion_truth with the roles swapped: "current" = frame 0, "previous" = frame 1; its flow
    # says where frame 0's points are in frame 1 (x - flow), so forward = -flow.
    ids = np.where(np.isfinite(first.depth), 0, -1)
    none = np.zeros(0, bool)
    reverse = motion_truth(first.depth, ids, first.intrinsics, cur_from_prev,
                           np.zeros((0, 4, 4)), none, none, second.depth)
    forward = -reverse.flow
    flow, valid = forward_to_ours(forward)
    truth = second.flow_valid
    assert truth.mean() > 0.8
    reached = valid & truth
    assert reached.sum() > 0.95 * truth.sum()
    error = np.linalg.norm(flow[reached] - second.flow[reached], axis=1)
    # Exact in smooth regions (a nearest-pixel splat would be off by about half the flow
    # gradient, ~0.05 px here); bilinear mixing within max_spread at surface edges.
    assert np.median(error) < 1e-3 and np.percentile(error, 95) < 0.02
    assert np.percentile(error, 99) < 0.2
    assert np.abs(second.flow[reached]).max() > 2.0  # not a trivially small flow
