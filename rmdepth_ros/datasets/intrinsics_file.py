"""Camera intrinsics from numbers or from a YAML / JSON file.

Accepted file contents (a mapping; YAML is a superset of JSON, so both parse the same way):

- `fx`, `fy`, `cx`, `cy` (pixels), optionally `width`, `height`;
- `K`: 3x3 nested list, or 9 numbers row-major, optionally `width`, `height`;
- a ROS camera_calibration file: `camera_matrix: {rows: 3, cols: 3, data: [9 numbers]}` with
  `image_width`, `image_height`.

Numbers use the OpenCV pixel-centre convention (docs/conventions.md). When the file gives a
size, readers check it against the images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from rmdepth_ros.datasets.image_files import intrinsics_matrix
from rmdepth_ros.datasets.sequence import DataError

INTRINSICS_FILE_NAMES = ('intrinsics.yaml', 'intrinsics.yml', 'intrinsics.json',
                         'camera_info.yaml', 'camera.yaml', 'calibration.yaml')


def as_intrinsics(values: object, source: str = 'intrinsics') -> np.ndarray:
    """3x3 K, or [fx, fy, cx, cy] -> (3, 3) float64 K; DataError naming `source` otherwise."""
    try:
        k = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f'{source}: intrinsics must be numbers, got {values!r}') from None
    if k.shape == (4,):
        k = intrinsics_matrix(*k)
    elif k.shape == (9,):
        k = k.reshape(3, 3)
    if k.shape != (3, 3):
        raise DataError(f'{source}: intrinsics must be a 3x3 K or [fx, fy, cx, cy], got shape '
                        f'{k.shape}')
    if not np.all(np.isfinite(k)) or k[0, 0] <= 0 or k[1, 1] <= 0:
        raise DataError(f'{source}: intrinsics need finite values and positive fx, fy: '
                        f'{k.tolist()}')
    if not np.allclose(k[2], [0.0, 0.0, 1.0]):
        raise DataError(f'{source}: last row of K must be [0, 0, 1], got {k[2].tolist()}')
    return k


def load_intrinsics(path: Path) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Read an intrinsics file -> (K (3, 3) float64, (width, height) or None)."""
    if not path.is_file():
        raise DataError(f'{path}: intrinsics file not found')
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise DataError(f'{path}: not valid YAML / JSON: {err}') from None
    if not isinstance(data, dict):
        raise DataError(f'{path}: expected a mapping with fx, fy, cx, cy or K')
    size = None
    if 'camera_matrix' in data:
        matrix = data['camera_matrix']
        k = as_intrinsics(matrix.get('data') if isinstance(matrix, dict) else matrix, str(path))
        width, height = data.get('image_width'), data.get('image_height')
    elif 'K' in data:
        k = as_intrinsics(data['K'], str(path))
        width, height = data.get('width'), data.get('height')
    elif all(key in data for key in ('fx', 'fy', 'cx', 'cy')):
        k = as_intrinsics([data['fx'], data['fy'], data['cx'], data['cy']], str(path))
        width, height = data.get('width'), data.get('height')
    else:
        raise DataError(f"{path}: no intrinsics: expected keys fx, fy, cx, cy, or K, or "
                        f"camera_matrix (found: {', '.join(map(str, data)) or 'none'})")
    if width is not None and height is not None:
        try:
            size = (int(width), int(height))
        except (TypeError, ValueError):
            raise DataError(f'{path}: width / height must be integers') from None
    return k, size


def find_intrinsics_file(folder: Path) -> Path | None:
    """The first of INTRINSICS_FILE_NAMES present in `folder`."""
    for name in INTRINSICS_FILE_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def shared_intrinsics(root: Path, intrinsics: object, missing: str
                      ) -> tuple[np.ndarray, tuple[int, int] | None]:
    """One set of intrinsics for a folder of images: from a file path, from numbers, or from
    the folder's own intrinsics file. Returns (K, image size or None); `missing` names what
    was looked for when nothing is found ('no intrinsics file')."""
    if isinstance(intrinsics, (str, Path)):
        return load_intrinsics(Path(intrinsics))
    if intrinsics is not None:
        return as_intrinsics(intrinsics, str(root)), None
    path = find_intrinsics_file(root)
    if path is None:
        names = ', '.join(INTRINSICS_FILE_NAMES)
        raise DataError(f'{root}: {missing} ({names}) and no intrinsics argument')
    return load_intrinsics(path)

