"""Dataset readers on tiny fixtures built in the official layouts, with hand-computed values."""

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from rmdepth_ros.datasets.cityscapes import CityscapesSequence
from rmdepth_ros.datasets.folder import FolderSequence
from rmdepth_ros.datasets.kitti import KittiOdometrySequence, KittiRawSequence
from rmdepth_ros.datasets.sequence import DataError
from rmdepth_ros.datasets.tum import TumSequence
from rmdepth_ros.open_sequence import open_sequence

SHARED_KITTI = Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'kitti_odometry_06'
W, H = 40, 20


def _png(path: Path, seed: int, gray: bool = False, size: tuple[int, int] = (W, H)) -> np.ndarray:
    """Write a random PNG; return it as the reader should give it back (RGB or gray)."""
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if gray else (size[1], size[0], 3)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image if gray else cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return image


def _lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('\n'.join(lines) + '\n')
    return path


# ---------------------------------------------------------------------------------------------
# KITTI raw

# velodyne -> camera: cam x = -velo y, cam y = -velo z, cam z = velo x - 0.5
P_RECT_02 = '100 0 20 6 0 100 10 0 0 0 1 0'  # fx = fy = 100, cx = 20, cy = 10, t = (0.06, 0, 0)


def _kitti_raw(tmp_path: Path, oxts: bool = False) -> tuple[Path, list[np.ndarray]]:
    day = tmp_path / '2011_09_26'
    drive = day / '2011_09_26_drive_0001_sync'
    _lines(day / 'calib_cam_to_cam.txt', [
        'calib_time: 09-Jan-2012 13:57:47', 'corner_dist: 9.950000e-02',
        'R_rect_00: 1 0 0 0 1 0 0 0 1', f'P_rect_02: {P_RECT_02}',
        'P_rect_00: 100 0 20 0 0 100 10 0 0 0 1 0'])
    _lines(day / 'calib_velo_to_cam.txt', [
        'calib_time: 15-Mar-2012 11:37:16', 'R: 0 -1 0 0 0 -1 1 0 0', 'T: 0 0 -0.5',
        'delta_f: 0 0', 'delta_c: 0 0'])
    _lines(day / 'calib_imu_to_velo.txt', ['R: 1 0 0 0 1 0 0 0 1', 'T: 0 0 0'])
    images = [_png(drive / 'image_02' / 'data' / f'{i:010d}.png', i) for i in range(2)]
    _lines(drive / 'image_02' / 'timestamps.txt',
           ['2011-09-26 13:02:25.964389445', '2011-09-26 13:02:26.068543211'])
    points = np.array([
        [10.5, 0.0, 0.0, 0.3],     # cam (0, 0, 10): u 20.6, v 10 -> col 20, row 9, depth 10
        [20.5, -0.06, 0.0, 0.3],   # cam (0.06, 0, 20): same pixel, farther: must lose
        [10.5, 2.02, 0.0, 0.3],    # cam (-2.02, 0, 10): u 0.4 -> col -1: outside (shifted)
        [5.5, 0.0, -0.5, 0.3],     # cam (0, 0.5, 5): u 21.2, v 20 -> col 20, row 19, depth 5
        [10.5, -5.0, 0.0, 0.3],    # u 70.6: right of the image
        [-8.0, 0.0, 0.0, 0.3],     # behind the LiDAR
    ], dtype=np.float32)
    velo = drive / 'velodyne_points' / 'data'
    velo.mkdir(parents=True)
    for i in range(2):
        points.tofile(velo / f'{i:010d}.bin')
    if oxts:
        # facing east (yaw 0); frame 1: 1e-5 deg further east at the equator, 0.5 m higher
        _lines(drive / 'oxts' / 'data' / '0000000000.txt', ['0 0 10 0 0 0 ' + '0 ' * 24])
        _lines(drive / 'oxts' / 'data' / '0000000001.txt', ['0 1e-5 10.5 0 0 0 ' + '0 ' * 24])
    return drive, images


def test_kitti_raw_depth_intrinsics_and_timestamps(tmp_path: Path) -> None:
    drive, images = _kitti_raw(tmp_path)
    seq = KittiRawSequence(drive)
    assert len(seq) == 2
    frame = seq[1]
    np.testing.assert_array_equal(frame.image, images[1])
    np.testing.assert_array_equal(frame.intrinsics, [[100, 0, 20], [0, 100, 10], [0, 0, 1]])
    assert frame.pose is None  # no oxts folder
    expected = np.full((H, W), np.nan, np.float32)
    expected[9, 20] = 10.0  # nearest of two points on one pixel
    expected[19, 20] = 5.0
    np.testing.assert_allclose(frame.depth, expected, rtol=1e-6)
    # 2011-09-26 13:02:25 UTC = 1317042145 s since the epoch
    assert seq[0].timestamp == pytest.approx(1317042145.964389445, abs=1e-6)
    assert seq[1].timestamp - seq[0].timestamp == pytest.approx(0.104153766, abs=1e-6)


def test_kitti_raw_without_pixel_shift(tmp_path: Path) -> None:
    drive, _ = _kitti_raw(tmp_path)
    depth = KittiRawSequence(drive, eigen_pixel_shift=False)[0].depth
    expected = np.full((H, W), np.nan, np.float32)
    expected[10, 21] = 10.0
    expected[10, 0] = 10.0  # u 0.4 rounds to column 0; v 20 (row 20) is now outside
    np.testing.assert_allclose(depth, expected, rtol=1e-6)


def test_kitti_raw_oxts_poses(tmp_path: Path) -> None:
    drive, _ = _kitti_raw(tmp_path, oxts=True)
    seq = KittiRawSequence(drive)
    np.testing.assert_allclose(seq[0].pose, np.eye(4), atol=1e-9)
    east = 6378137.0 * math.radians(1e-5)  # IMU x (forward) = camera z
    np.testing.assert_allclose(seq[1].pose[:3, 3], [0.0, -0.5, east], atol=1e-6)
    np.testing.assert_allclose(seq[1].pose[:3, :3], np.eye(3), atol=1e-9)


def test_kitti_raw_errors(tmp_path: Path) -> None:
    drive, _ = _kitti_raw(tmp_path)
    with pytest.raises(DataError, match=r'no image_03/data \(camera folders: image_02\)'):
        KittiRawSequence(drive, camera=3)
    calib = drive.parent / 'calib_cam_to_cam.txt'
    text = calib.read_text()
    calib.write_text(text.replace('P_rect_02: ' + P_RECT_02, 'P_rect_02: 1 2 3'))
    with pytest.raises(DataError, match='P_rect_02 has 3 numbers, expected 12'):
        KittiRawSequence(drive)
    calib.write_text(text + 'garbage line\n')
    with pytest.raises(DataError, match=r'calib_cam_to_cam.txt:6: malformed calibration line'):
        KittiRawSequence(drive)
    calib.unlink()
    with pytest.raises(DataError, match='calib_cam_to_cam.txt: calibration file not found'):
        KittiRawSequence(drive)
    calib.write_text(text)
    _lines(drive / 'image_02' / 'timestamps.txt', ['2011-09-26 13:02:25.964389445'])
    with pytest.raises(DataError, match='1 timestamps for 2 images'):
        KittiRawSequence(drive)
    (drive / 'image_02' / 'timestamps.txt').unlink()
    assert [f.timestamp for f in KittiRawSequence(drive)] == [0.0, 0.1]
    scan = drive / 'velodyne_points' / 'data' / '0000000001.bin'
    scan.write_bytes(b'\0' * 20)
    with pytest.raises(DataError, match='not a whole number of 16-byte points'):
        KittiRawSequence(drive)[1]
    scan.unlink()
    with pytest.raises(DataError, match=r'1 of 2 frames have no .bin file \(first: '
                                        r'0000000001.bin\)'):
        KittiRawSequence(drive)
    assert KittiRawSequence(drive, depth=False)[1].depth is None
    (drive / 'image_02' / 'data' / '0000000000.png').write_bytes(b'not a png')
    with pytest.raises(DataError, match='0000000000.png: not a readable image'):
        KittiRawSequence(drive, depth=False)[0]


# ---------------------------------------------------------------------------------------------
# KITTI odometry

P0 = '700 0 600 0 0 700 180 0 0 0 1 0'
P2 = '710 0 610 42.6 0 710 185 0 0 0 1 0'  # t_2 = (0.06, 0, 0) m


def _pose_line(tx: float, ty: float, tz: float) -> str:
    return f'1 0 0 {tx} 0 1 0 {ty} 0 0 1 {tz}'


def test_kitti_odometry_official_layout(tmp_path: Path) -> None:
    seq_dir = tmp_path / 'sequences' / '05'
    colour = [_png(seq_dir / 'image_2' / f'{i:06d}.png', i) for i in range(3)]
    gray = [_png(seq_dir / 'image_0' / f'{i:06d}.png', 10 + i, gray=True) for i in range(3)]
    _lines(seq_dir / 'calib.txt', [f'P0: {P0}', f'P1: {P0}', f'P2: {P2}', f'P3: {P2}',
                                   'Tr: 1 0 0 0 0 1 0 0 0 0 1 0'])
    _lines(seq_dir / 'times.txt', ['0.000000e+00', '1.036615e-01', '2.073230e-01'])
    _lines(tmp_path / 'poses' / '05.txt', [_pose_line(0, 0, 0), _pose_line(0, 0, 0.8),
                                           _pose_line(0.1, 0, 1.6)])
    seq = KittiOdometrySequence(seq_dir)  # default: colour camera 2
    frame = seq[2]
    np.testing.assert_array_equal(frame.image, colour[2])
    np.testing.assert_array_equal(frame.intrinsics, [[710, 0, 610], [0, 710, 185], [0, 0, 1]])
    assert frame.timestamp == pytest.approx(0.207323)
    # camera 2 sits 0.06 m left of camera 0 (-x): T_world_cam0 @ [I | -t_2]
    np.testing.assert_allclose(frame.pose[:3, 3], [0.1 - 0.06, 0.0, 1.6], atol=1e-12)
    left = KittiOdometrySequence(seq_dir, camera=0)
    assert left[1].image.shape == (H, W) and left[1].image.dtype == np.uint8
    np.testing.assert_array_equal(left[1].image, gray[1])
    assert left[1].intrinsics[0, 0] == 700.0
    np.testing.assert_allclose(left[1].pose[:3, 3], [0, 0, 0.8])


def test_kitti_odometry_small_layout_and_errors(tmp_path: Path) -> None:
    folder = tmp_path / 'seq'
    for i in range(2):
        _png(folder / 'image_l' / f'{i:06d}.png', i, gray=True)
    _lines(folder / 'calib.txt', [P0, P2])
    _lines(folder / 'poses.txt', [_pose_line(0, 0, 0), _pose_line(0, 0, 1)])
    seq = KittiOdometrySequence(folder)
    assert [f.timestamp for f in seq] == [0.0, 0.1]
    assert seq[0].intrinsics[0, 2] == 600.0
    np.testing.assert_array_equal(seq[0].pose, np.eye(4))
    assert isinstance(open_sequence(folder), KittiOdometrySequence)
    _lines(folder / 'poses.txt', [_pose_line(0, 0, 0)])
    with pytest.raises(DataError, match='poses.txt: 1 pose lines for 2 images'):
        KittiOdometrySequence(folder)
    _lines(folder / 'poses.txt', [_pose_line(0, 0, 0), '1 0 0'])
    with pytest.raises(DataError, match='poses.txt:2: expected 12 numbers, found 3'):
        KittiOdometrySequence(folder)
    _lines(folder / 'calib.txt', [P0 + ' 5'])
    with pytest.raises(DataError, match=r'calib.txt: P0 has 13 numbers, expected 12 \(3x4\)'):
        KittiOdometrySequence(folder)
    _lines(folder / 'calib.txt', [P0])
    with pytest.raises(DataError, match='no image_2 folder'):
        KittiOdometrySequence(folder, camera=2)
    (folder / 'calib.txt').unlink()
    with pytest.raises(DataError, match='calib.txt: calibration file not found'):
        KittiOdometrySequence(folder)


def test_shared_kitti_odometry_06() -> None:
    if not SHARED_KITTI.is_dir():
        pytest.skip(f'shared KITTI sample not present at {SHARED_KITTI}')
    seq = open_sequence(SHARED_KITTI)
    assert isinstance(seq, KittiOdometrySequence)
    assert len(seq) == 51
    first, last = seq[0], seq[50]
    assert first.image.shape == (370, 1226) and first.image.dtype == np.uint8
    assert first.intrinsics[0, 0] == pytest.approx(707.0912)
    assert first.intrinsics[1, 2] == pytest.approx(183.1104)
    np.testing.assert_allclose(first.pose, np.eye(4), atol=1e-6)
    assert last.timestamp == pytest.approx(5.0)
    assert np.linalg.norm(last.pose[:3, 3]) > 1.0  # the car has driven


# ---------------------------------------------------------------------------------------------
# TUM RGB-D

def test_tum_association_depth_and_poses(tmp_path: Path) -> None:
    root = tmp_path / 'rgbd_dataset_freiburg2_xyz'
    images = [_png(root / 'rgb' / f'{t:.2f}.png', i) for i, t in enumerate([1.0, 1.1, 1.2])]
    _lines(root / 'rgb.txt', ['# color images', '# timestamp filename',
                              '1.000000 rgb/1.00.png', '1.100000 rgb/1.10.png',
                              '1.200000 rgb/1.20.png'])
    raw = np.zeros((H, W), np.uint16)
    raw[0, 0], raw[5, 7] = 5000, 12345
    (root / 'depth').mkdir()
    for t in ('1.010', '1.135', '1.195'):
        assert cv2.imwrite(str(root / 'depth' / f'{t}.png'), raw)
    _lines(root / 'depth.txt', ['# depth maps', '1.010 depth/1.010.png',
                                '1.135 depth/1.135.png', '1.195 depth/1.195.png'])
    s = math.sqrt(0.5)
    _lines(root / 'groundtruth.txt', ['# timestamp tx ty tz qx qy qz qw',
                                      '0.995 1 2 3 0 0 0 1', f'1.205 1 2 3 0 0 {s} {s}'])
    seq = TumSequence(root)
    np.testing.assert_array_equal(seq[0].intrinsics,
                                  [[520.9, 0, 325.1], [0, 521.0, 249.7], [0, 0, 1]])
    np.testing.assert_array_equal(seq[1].image, images[1])
    assert [f.timestamp for f in seq] == [1.0, 1.1, 1.2]
    depth = seq[0].depth
    assert depth[0, 0] == 1.0 and depth[5, 7] == pytest.approx(2.469)
    assert np.isnan(depth[1, 1])
    assert seq[1].depth is None  # nearest depth 35 ms away
    assert seq[2].depth is not None
    assert seq[1].pose is None
    np.testing.assert_allclose(seq[2].pose[:3, :3], [[0, -1, 0], [1, 0, 0], [0, 0, 1]],
                               atol=1e-12)  # 90 deg about z
    np.testing.assert_array_equal(seq[0].pose[:3, 3], [1, 2, 3])
    assert isinstance(open_sequence(root), TumSequence)


def test_tum_intrinsics_required_for_unknown_folder(tmp_path: Path) -> None:
    root = tmp_path / 'my_recording'
    _png(root / 'rgb' / 'a.png', 0)
    _lines(root / 'rgb.txt', ['5.0 rgb/a.png'])
    with pytest.raises(DataError, match='cannot tell freiburg 1/2/3'):
        TumSequence(root)
    seq = TumSequence(root, intrinsics=[500, 501, 20, 10])
    assert seq[0].intrinsics[1, 1] == 501 and seq[0].depth is None and seq[0].pose is None
    _lines(root / 'rgb.txt', ['5.0'])
    with pytest.raises(DataError, match="rgb.txt:1: expected 'timestamp filename'"):
        TumSequence(root, intrinsics=[500, 501, 20, 10])


# ---------------------------------------------------------------------------------------------
# Cityscapes

def _camera_json(path: Path, fx: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({'extrinsic': {'x': 1.7, 'z': 1.22},
                                'intrinsic': {'fx': fx, 'fy': fx + 1, 'u0': 20.5, 'v0': 9.5}}))


def test_cityscapes_snippets(tmp_path: Path) -> None:
    city = tmp_path / 'leftImg8bit_sequence' / 'train' / 'aachen'
    cams = tmp_path / 'camera' / 'train' / 'aachen'
    first = [_png(city / f'aachen_000000_0000{n}_leftImg8bit.png', n) for n in (17, 18, 19)]
    for n in (0, 1):
        _png(city / f'aachen_000001_00000{n}_leftImg8bit.png', 30 + n)
    _camera_json(cams / 'aachen_000000_000019_camera.json', 2262.5)
    _camera_json(cams / 'aachen_000001_000019_camera.json', 2200.0)
    seq = open_sequence(city)
    assert isinstance(seq, CityscapesSequence) and len(seq) == 5
    np.testing.assert_array_equal(seq[1].image, first[1])
    np.testing.assert_array_equal(seq[0].intrinsics,
                                  [[2262.5, 0, 20.5], [0, 2263.5, 9.5], [0, 0, 1]])
    assert seq[3].intrinsics[0, 0] == 2200.0
    stamps = [f.timestamp for f in seq]
    assert stamps[:3] == pytest.approx([1.0, 18 / 17, 19 / 17])
    assert stamps[3:] == pytest.approx([19 / 17 + 1.0, 19 / 17 + 1.0 + 1 / 17])
    one = CityscapesSequence(city, sequence='000001')
    assert [f.timestamp for f in one] == pytest.approx([0.0, 1 / 17])
    (cams / 'aachen_000001_000019_camera.json').unlink()
    with pytest.raises(DataError, match='no aachen_000001_\\*_camera.json'):
        CityscapesSequence(city)
    (cams / 'aachen_000000_000019_camera.json').write_text('{"intrinsic": {"fx": 1}}')
    with pytest.raises(DataError, match='intrinsic.fx, fy, u0, v0'):
        CityscapesSequence(city, sequence='000000')


# ---------------------------------------------------------------------------------------------
# folder of images, open_sequence

def test_folder_intrinsics_formats_and_timestamps(tmp_path: Path) -> None:
    folder = tmp_path / 'imgs'
    images = [_png(folder / f'{name}.png', i) for i, name in enumerate(['b', 'a', 'c'])]
    _lines(folder / 'intrinsics.yaml', ['fx: 30.0', 'fy: 31.0', 'cx: 19.5', 'cy: 9.5'])
    seq = FolderSequence(folder, fps=4.0)
    np.testing.assert_array_equal(seq[0].image, images[1])  # sorted by name: a, b, c
    assert [f.timestamp for f in seq] == [0.0, 0.25, 0.5]
    np.testing.assert_array_equal(seq[2].intrinsics, [[30, 0, 19.5], [0, 31, 9.5], [0, 0, 1]])
    k_json = tmp_path / 'k.json'
    k_json.write_text(json.dumps({'K': [[40, 0, 20], [0, 41, 10], [0, 0, 1]], 'width': W,
                                  'height': H}))
    assert FolderSequence(folder, intrinsics=k_json)[0].intrinsics[1, 1] == 41.0
    ros = _lines(tmp_path / 'ros.yaml', ['image_width: 640', 'image_height: 480',
                                         'camera_matrix:', '  rows: 3', '  cols: 3',
                                         '  data: [50, 0, 20, 0, 50, 10, 0, 0, 1]'])
    with pytest.raises(DataError, match=r'a.png: image is 40x20 but the intrinsics are for '
                                        r'640x480'):
        FolderSequence(folder, intrinsics=ros)[0]
    bad = _lines(tmp_path / 'bad.yaml', ['focal: 3'])
    with pytest.raises(DataError, match='no intrinsics: expected keys fx, fy, cx, cy'):
        FolderSequence(folder, intrinsics=bad)
    with pytest.raises(DataError, match=r'3x3 K or \[fx, fy, cx, cy\]'):
        FolderSequence(folder, intrinsics=[1, 2, 3])
    (folder / 'intrinsics.yaml').unlink()
    with pytest.raises(DataError, match='no intrinsics file'):
        FolderSequence(folder)


def test_open_sequence_dispatch_and_errors(tmp_path: Path) -> None:
    drive, _ = _kitti_raw(tmp_path)
    assert isinstance(open_sequence(drive, camera=2), KittiRawSequence)
    with pytest.raises(DataError, match='KittiRawSequence does not take option.*fps'):
        open_sequence(drive, fps=3)
    folder = tmp_path / 'plain'
    _png(folder / '0.jpg', 0)
    seq = open_sequence(folder, intrinsics=[10, 10, 20, 10], fps=2.0)
    assert isinstance(seq, FolderSequence) and seq[0].image.shape == (H, W, 3)
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(DataError, match='not a recognised sequence'):
        open_sequence(empty)
    with pytest.raises(DataError, match='no such file or folder'):
        open_sequence(tmp_path / 'missing')
