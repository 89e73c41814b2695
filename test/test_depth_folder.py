"""The depth-folder reader (KITTI depth PNGs, per-image intrinsics) and the DDAD body masks."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from rmdepth_ros.datasets.ddad_body import body_key, ddad_body_mask
from rmdepth_ros.datasets.depth_folder import DepthFolderSequence, read_kitti_depth
from rmdepth_ros.datasets.sequence import DataError
from rmdepth_ros.open_sequence import open_sequence

SHARED_DDAD = Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'ddad_sample'
W, H = 8, 6


def _image(path: Path, size: tuple[int, int] = (W, H), seed: int = 0) -> np.ndarray:
    rgb = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return rgb


def _depth_png(path: Path, raw: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), raw)


def _text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _folder(tmp_path: Path) -> tuple[Path, list[np.ndarray], np.ndarray]:
    root = tmp_path / 'drive'
    images = [_image(root / 'images' / f'{name}.png', seed=i)
              for i, name in enumerate(('a', 'b'))]
    raw = np.zeros((H, W), np.uint16)
    raw[1, 2] = 256 * 10        # 10 m
    raw[4, 7] = 640             # 2.5 m
    _depth_png(root / 'depth' / 'a.png', raw)
    _text(root / 'intrinsics' / 'a.txt', '100 110 3.5 2.5 8 6\n')
    _text(root / 'intrinsics' / 'b.txt', '50 55 4 3 8 6\n')
    return root, images, raw


def test_reads_depth_with_zero_as_missing_and_per_image_intrinsics(tmp_path: Path) -> None:
    root, images, raw = _folder(tmp_path)
    sequence = open_sequence(root)
    assert isinstance(sequence, DepthFolderSequence) and len(sequence) == 2
    first, second = sequence[0], sequence[1]
    np.testing.assert_array_equal(first.image, images[0])
    assert first.depth.dtype == np.float32 and first.depth.shape == (H, W)
    assert first.depth[1, 2] == 10.0 and first.depth[4, 7] == 2.5
    assert np.isnan(first.depth).sum() == H * W - 2
    np.testing.assert_array_equal(first.intrinsics,
                                  [[100, 0, 3.5], [0, 110, 2.5], [0, 0, 1]])
    assert second.intrinsics[0, 0] == 50 and second.intrinsics[1, 2] == 3
    assert second.depth is None  # no depth/b.png
    assert second.timestamp == pytest.approx(0.1)
    assert sequence.ignore_mask(0) is None  # not a DDAD name


def test_shared_intrinsics_file_and_images_in_the_root(tmp_path: Path) -> None:
    root = tmp_path / 'flat'
    _image(root / 'x.png')
    _depth_png(root / 'depth' / 'x.png', np.full((H, W), 512, np.uint16))
    _text(root / 'intrinsics.yaml', 'fx: 7\nfy: 8\ncx: 3\ncy: 2\nwidth: 8\nheight: 6\n')
    frame = open_sequence(root)[0]
    assert frame.intrinsics[0, 0] == 7 and np.all(frame.depth == 2.0)
    assert DepthFolderSequence(root, intrinsics=[1, 2, 3, 4])[0].intrinsics[1, 1] == 2


@pytest.mark.parametrize('break_it, message', [
    (lambda r: _depth_png(r / 'depth' / 'a.png', np.zeros((H, W), np.uint8)), 'a.png: expected'),
    (lambda r: _depth_png(r / 'depth' / 'a.png', np.zeros((H, W + 1), np.uint16)),
     'a.png: depth is 9x6'),
    (lambda r: _text(r / 'intrinsics' / 'a.txt', '100 110 3.5\n'), 'a.txt: expected one line'),
    (lambda r: _text(r / 'intrinsics' / 'a.txt', '100 110 3.5 2.5 16 12\n'),
     'a.png: image is 8x6 but the intrinsics are for 16x12'),
    (lambda r: _text(r / 'intrinsics' / 'a.txt', '100 x 3.5 2.5 8 6\n'), 'a.txt:1: not a row'),
    (lambda r: _text(r / 'depth' / 'a.png', 'not a png'), 'a.png: not a readable image'),
])
def test_bad_files_raise_one_error_naming_the_file(tmp_path: Path, break_it, message) -> None:
    root, _, _ = _folder(tmp_path)
    break_it(root)
    with pytest.raises(DataError, match=message):
        DepthFolderSequence(root)[0]


def test_layout_errors(tmp_path: Path) -> None:
    root, _, _ = _folder(tmp_path)
    (root / 'intrinsics' / 'b.txt').unlink()
    with pytest.raises(DataError, match=r'intrinsics: 1 of 2 images have no NAME.txt.*b.txt'):
        DepthFolderSequence(root)
    (root / 'depth' / 'a.png').unlink()
    with pytest.raises(DataError, match='depth: no depth PNG named like an image'):
        DepthFolderSequence(root)
    with pytest.raises(DataError, match='body_mask must be one of auto, none'):
        DepthFolderSequence(root, body_mask='yes')


def test_ddad_body_mask_shape_and_scaling() -> None:
    assert body_key('scene_02_CAMERA_09_1561') == ('scene_02', 'CAMERA_09')
    assert body_key('frame_0001') is None and ddad_body_mask('frame_0001', (W, H)) is None
    assert not ddad_body_mask('scene_01_CAMERA_01_1', (1936, 1216)).any()
    full = ddad_body_mask('scene_02_CAMERA_09_1', (1936, 1216))
    assert full[1200, 968] and full[10, 968] and not full[600, 968] and not full[900, 968]
    small = ddad_body_mask('scene_02_CAMERA_09_1', (242, 152))  # 1/8 scale
    assert small.shape == (152, 242) and small[150, 121] and not small[75, 121]
    assert abs(small.mean() - full.mean()) < 0.02
    # Rear-left: the diagonal leaves the lower-right road visible, the lower-left is body.
    rear_left = ddad_body_mask('scene_02_CAMERA_07_1', (1936, 1216))
    assert rear_left[900, 100] and not rear_left[900, 1800] and rear_left[50, 50]


def test_body_mask_sets_depth_to_nan_unless_disabled(tmp_path: Path) -> None:
    root = tmp_path / 'ddad'
    size = (242, 152)
    name = 'scene_02_CAMERA_09_1'
    _image(root / 'images' / f'{name}.jpg', size)
    _depth_png(root / 'depth' / f'{name}.png', np.full((size[1], size[0]), 2560, np.uint16))
    _text(root / 'intrinsics' / f'{name}.txt', '130 130 121 76 242 152\n')
    masked = DepthFolderSequence(root)[0].depth
    kept = DepthFolderSequence(root, body_mask='none')[0].depth
    assert np.isnan(masked[150, 121]) and masked[75, 121] == 10.0
    assert np.all(kept == 10.0)
    ignore = DepthFolderSequence(root).ignore_mask(0)
    np.testing.assert_array_equal(np.isnan(masked), ignore)


def test_read_kitti_depth_scale(tmp_path: Path) -> None:
    raw = np.array([[0, 1, 65535]], np.uint16)
    _depth_png(tmp_path / 'd.png', raw)
    np.testing.assert_array_equal(read_kitti_depth(tmp_path / 'd.png'),
                                  [[np.nan, 1 / 256, 65535 / 256]])


def test_shared_ddad_sample() -> None:
    if not SHARED_DDAD.is_dir():
        pytest.skip(f'shared DDAD sample not present at {SHARED_DDAD}')
    sequence = open_sequence(SHARED_DDAD)
    assert isinstance(sequence, DepthFolderSequence) and len(sequence) == 27
    names = [sequence.frame_name(i) for i in range(len(sequence))]
    index = names.index('scene_02_CAMERA_08_15616458249936530')
    frame = sequence[index]
    assert frame.image.shape == (1216, 1936, 3) and frame.depth.shape == (1216, 1936)
    raw = cv2.imread(str(SHARED_DDAD / 'depth' / f'{names[index]}.png'), cv2.IMREAD_UNCHANGED)
    body = sequence.ignore_mask(index)
    valid = np.isfinite(frame.depth)
    # Every LiDAR pixel off the body is kept, at value / 256; the body removes a few hundred.
    np.testing.assert_array_equal(valid, (raw > 0) & ~body)
    assert 100 < ((raw > 0) & body).sum() < 0.1 * (raw > 0).sum()
    np.testing.assert_allclose(frame.depth[valid], raw[valid] / 256.0)
    assert 1000 < frame.intrinsics[0, 0] < 1100  # side camera, fx about 1060
