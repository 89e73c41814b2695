"""TUM RGB-D benchmark sequences (rgbd_dataset_freiburgN_*).

Layout: rgb.txt and depth.txt ('timestamp filename' lines, '#' comments), groundtruth.txt
('timestamp tx ty tz qx qy qz qw': the colour camera's optical centre in the world, i.e.
camera-to-world, metres). Depth PNGs are uint16, metres = value / 5000, 0 = no measurement (NaN).
Depth and pose are associated to each colour frame by the nearest timestamp within
`max_difference` seconds (else None). Intrinsics: the published defaults for freiburg 1/2/3,
chosen by the folder name (`freiburgN` or `frN`), or the `intrinsics` argument. The images are
not undistorted (the fr1/fr2 distortion is small and ignored here).
"""

from __future__ import annotations

from pathlib import Path
import re

import numpy as np

from rmdepth_ros.datasets.image_files import read_image, read_number_lines, read_uint16
from rmdepth_ros.datasets.intrinsics_file import as_intrinsics
from rmdepth_ros.datasets.rotations import quaternion_to_rotation, transform_matrix
from rmdepth_ros.datasets.sequence import DataError, Frame, Sequence

TUM_INTRINSICS = {  # fx, fy, cx, cy (pixels) of the 640x480 colour cameras
    1: (517.3, 516.5, 318.6, 255.3),
    2: (520.9, 521.0, 325.1, 249.7),
    3: (535.4, 539.2, 320.1, 247.6),
}
DEPTH_SCALE = 5000.0  # PNG units per metre


def read_file_list(path: Path) -> list[tuple[float, str]]:
    """rgb.txt / depth.txt -> [(timestamp s, relative file name)]."""
    if not path.is_file():
        raise DataError(f'{path}: file not found')
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split('#', 1)[0].strip()
        if not text:
            continue
        parts = text.split()
        try:
            entries.append((float(parts[0]), parts[1]))
        except (ValueError, IndexError):
            raise DataError(f"{path}:{number}: expected 'timestamp filename', got "
                            f'{line.strip()!r}') from None
    return entries


def nearest(stamps: np.ndarray, query: float, max_difference: float) -> int | None:
    """Index of the stamp nearest to `query` (stamps sorted), or None if farther than allowed."""
    if stamps.size == 0:
        return None
    i = int(np.searchsorted(stamps, query))
    best = min((j for j in (i - 1, i) if 0 <= j < stamps.size),
               key=lambda j: abs(stamps[j] - query))
    return best if abs(stamps[best] - query) <= max_difference else None


def freiburg_number(folder: Path) -> int | None:
    """1, 2 or 3 from a folder name such as rgbd_dataset_freiburg2_desk or fr3_office."""
    match = re.search(r'(?:freiburg|fr)([123])(?![0-9])', folder.resolve().name.lower())
    return int(match.group(1)) if match else None


class TumSequence(Sequence):
    """A TUM RGB-D sequence folder. intrinsics: 3x3 K or [fx, fy, cx, cy] overriding defaults."""

    def __init__(self, folder: str | Path, intrinsics: object = None,
                 max_difference: float = 0.02) -> None:
        self.root = Path(folder)
        self.name = self.root.name
        self.rgb = read_file_list(self.root / 'rgb.txt')
        if not self.rgb:
            raise DataError(f"{self.root / 'rgb.txt'}: no frames listed")
        if intrinsics is not None:
            self.intrinsics = as_intrinsics(intrinsics, str(self.root))
        else:
            number = freiburg_number(self.root)
            if number is None:
                raise DataError(f'{self.root}: cannot tell freiburg 1/2/3 from the folder name; '
                                'pass intrinsics=[fx, fy, cx, cy]')
            self.intrinsics = as_intrinsics(TUM_INTRINSICS[number])
        depth_list = self.root / 'depth.txt'
        depth = read_file_list(depth_list) if depth_list.is_file() else []
        depth.sort()
        depth_stamps = np.array([t for t, _ in depth])
        self.depth_files = []
        for stamp, _ in self.rgb:
            j = nearest(depth_stamps, stamp, max_difference)
            self.depth_files.append(None if j is None else self.root / depth[j][1])
        self.poses = self._poses(self.root / 'groundtruth.txt', max_difference)

    def _poses(self, path: Path, max_difference: float) -> list:
        if not path.is_file():
            return [None] * len(self.rgb)
        rows = sorted(read_number_lines(path, columns=8))
        stamps = np.array([row[0] for row in rows])
        poses = []
        for stamp, _ in self.rgb:
            j = nearest(stamps, stamp, max_difference)
            if j is None:
                poses.append(None)
                continue
            tx, ty, tz, qx, qy, qz, qw = rows[j][1:]
            poses.append(transform_matrix(quaternion_to_rotation([qx, qy, qz, qw]),
                                          [tx, ty, tz]))
        return poses

    def __len__(self) -> int:
        return len(self.rgb)

    def __getitem__(self, index: int) -> Frame:
        stamp, name = self.rgb[index]
        index %= len(self)
        image = read_image(self.root / name)
        depth = None
        if self.depth_files[index] is not None:
            raw = read_uint16(self.depth_files[index])
            if raw.shape != image.shape[:2]:
                raise DataError(f'{self.depth_files[index]}: depth is {raw.shape[1]}x'
                                f'{raw.shape[0]}, image is {image.shape[1]}x{image.shape[0]}')
            depth = np.where(raw == 0, np.nan, raw / DEPTH_SCALE).astype(np.float32)
        pose = self.poses[index]
        return Frame(image=image, intrinsics=self.intrinsics.copy(), timestamp=stamp,
                     depth=depth, pose=None if pose is None else pose.copy(), index=index)
