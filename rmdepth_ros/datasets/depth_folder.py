"""A folder of images with sparse metric depth in the KITTI depth PNG format (e.g. DDAD sample).

Layout:
    <root>/images/NAME.jpg|png   (or the images directly in <root>), sorted by file name
    <root>/depth/NAME.png        16-bit PNG, depth_m = value / 256, 0 = no measurement
    <root>/intrinsics/NAME.txt   optional, one line `fx fy cx cy width height` (or `fx fy cx cy`)

Intrinsics: the `intrinsics` argument when given (shared), else per image from
intrinsics/NAME.txt when that folder exists (every image needs one), else a shared intrinsics file
in <root> as for `FolderSequence`. Each frame
carries its own K, so images from different cameras can share one folder; such a folder is not a
temporal sequence, score it per frame. Frame i is stamped `start_time + i / fps`.

Depth: float32 metres, NaN where the PNG holds 0, on the image grid (the PNG must have the
image's size). An image without a depth file gets `depth = None`.

Ignored regions: `body_mask='auto'` sets depth to NaN on the ego-car body of the DDAD sample
(file names `scene_XX_CAMERA_YY_...`; polygons and how they were found in `ddad_body`);
`'none'` keeps every depth pixel. `ignore_mask(i)` returns that region as (H, W) bool.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rmdepth_ros.datasets.ddad_body import ddad_body_mask
from rmdepth_ros.datasets.image_files import (
    intrinsics_matrix,
    list_images,
    read_image,
    read_number_lines,
    read_uint16,
)
from rmdepth_ros.datasets.intrinsics_file import (
    as_intrinsics,
    shared_intrinsics,
)
from rmdepth_ros.datasets.sequence import DataError, Frame, Sequence

KITTI_DEPTH_SCALE = 256.0
BODY_MASKS = ('auto', 'none')


def read_kitti_depth(path: Path) -> np.ndarray:
    """A KITTI-format depth PNG -> (H, W) float32 metres, NaN where the file holds 0."""
    raw = read_uint16(path)
    depth = raw.astype(np.float32) / KITTI_DEPTH_SCALE
    depth[raw == 0] = np.nan
    return depth


def read_intrinsics_line(path: Path) -> tuple[np.ndarray, tuple[int, int] | None]:
    """`fx fy cx cy [width height]` on one line -> (K, (width, height) or None)."""
    rows = read_number_lines(path)
    if len(rows) != 1 or len(rows[0]) not in (4, 6):
        raise DataError(f'{path}: expected one line `fx fy cx cy width height` (or '
                        f'`fx fy cx cy`), found {len(rows)} line(s)')
    row = rows[0]
    k = as_intrinsics(intrinsics_matrix(*row[:4]), str(path))
    if len(row) == 4:
        return k, None
    if not (row[4].is_integer() and row[5].is_integer() and row[4] > 0 and row[5] > 0):
        raise DataError(f'{path}: width and height must be positive integers, got '
                        f'{row[4]:g} {row[5]:g}')
    return k, (int(row[4]), int(row[5]))


class DepthFolderSequence(Sequence):
    """Images + `depth/` (+ `intrinsics/`) in `folder`; see the module docstring."""

    def __init__(self, folder: str | Path, intrinsics: object = None, fps: float = 10.0,
                 start_time: float = 0.0, body_mask: str = 'auto') -> None:
        self.root = Path(folder)
        self.name = self.root.name
        if not fps > 0:
            raise DataError(f'{self.root}: fps must be positive, got {fps}')
        if body_mask not in BODY_MASKS:
            raise DataError(f"{self.root}: body_mask must be one of {', '.join(BODY_MASKS)}, "
                            f'got {body_mask!r}')
        self.fps, self.start_time, self.body_mask = float(fps), float(start_time), body_mask
        self.depth_dir = self.root / 'depth'
        if not self.depth_dir.is_dir():
            raise DataError(f'{self.root}: no depth/ folder')
        image_dir = self.root / 'images' if (self.root / 'images').is_dir() else self.root
        self.images = list_images(image_dir)
        if not self.images:
            raise DataError(f'{image_dir}: no .png / .jpg / .jpeg images')
        if not any((self.depth_dir / (p.stem + '.png')).is_file() for p in self.images):
            raise DataError(f'{self.depth_dir}: no depth PNG named like an image '
                            f'(e.g. {self.images[0].stem}.png)')
        self.intrinsics_dir = self.root / 'intrinsics'
        self.intrinsics: np.ndarray | None = None
        self.size: tuple[int, int] | None = None
        if self.intrinsics_dir.is_dir() and intrinsics is None:
            missing = [p.stem for p in self.images
                       if not (self.intrinsics_dir / (p.stem + '.txt')).is_file()]
            if missing:
                raise DataError(f'{self.intrinsics_dir}: {len(missing)} of {len(self.images)} '
                                f'images have no NAME.txt (first: {missing[0]}.txt)')
            self.intrinsics_dir_used = True
            return
        self.intrinsics_dir_used = False
        self.intrinsics, self.size = shared_intrinsics(
            self.root, intrinsics, 'no intrinsics/ folder, no intrinsics file')

    def __len__(self) -> int:
        return len(self.images)

    def frame_name(self, index: int) -> str:
        """The file stem of frame `index` (e.g. 'scene_02_CAMERA_07_15616458249936530')."""
        return self.images[index].stem

    def ignore_mask(self, index: int, size: tuple[int, int] | None = None) -> np.ndarray | None:
        """(H, W) bool, True where depth is not to be scored (ego body); None when none.

        size: (width, height) of the image; read from the image when omitted.
        """
        if self.body_mask == 'none':
            return None
        if size is None:
            image = read_image(self.images[index])
            size = (image.shape[1], image.shape[0])
        return ddad_body_mask(self.frame_name(index), size)

    def _intrinsics_for(self, path: Path) -> tuple[np.ndarray, tuple[int, int] | None]:
        if self.intrinsics_dir_used:
            return read_intrinsics_line(self.intrinsics_dir / (path.stem + '.txt'))
        return np.array(self.intrinsics), self.size

    def __getitem__(self, index: int) -> Frame:
        path = self.images[index]
        index %= len(self)
        image = read_image(path)
        height, width = image.shape[:2]
        k, size = self._intrinsics_for(path)
        if size is not None and size != (width, height):
            raise DataError(f'{path}: image is {width}x{height} but the intrinsics are for '
                            f'{size[0]}x{size[1]}')
        depth = None
        depth_path = self.depth_dir / (path.stem + '.png')
        if depth_path.is_file():
            depth = read_kitti_depth(depth_path)
            if depth.shape != (height, width):
                raise DataError(f'{depth_path}: depth is {depth.shape[1]}x{depth.shape[0]} but '
                                f'the image is {width}x{height}')
            ignore = self.ignore_mask(index, (width, height))
            if ignore is not None:
                depth[ignore] = np.nan
        return Frame(image=image, intrinsics=k, depth=depth,
                     timestamp=self.start_time + index / self.fps, index=index)
