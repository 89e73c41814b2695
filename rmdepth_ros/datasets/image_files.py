"""Image files on disk: listing and reading, with DataError naming the file on any failure."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from rmdepth_ros.datasets.sequence import DataError
from rmdepth_ros.opencv_images import decoded_to_rgb8

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg')


def list_images(folder: Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> list[Path]:
    """Image files directly in `folder`, sorted by name (case-insensitive suffix match)."""
    if not folder.is_dir():
        raise DataError(f'{folder}: not a folder')
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def read_image(path: Path) -> np.ndarray:
    """Read an 8-bit image as (H, W, 3) uint8 RGB, or (H, W) uint8 when stored gray.

    Colour files whose three channels are identical stay RGB (the file says colour). 16-bit
    files keep their high byte; alpha is dropped.
    """
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        reason = 'file not found' if not path.exists() else 'not a readable image'
        raise DataError(f'{path}: {reason}')
    try:
        return decoded_to_rgb8(image)
    except ValueError as error:
        raise DataError(f'{path}: {error}') from None


def read_uint16(path: Path) -> np.ndarray:
    """Read a single-channel 16-bit PNG (depth maps) as (H, W) uint16."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        reason = 'file not found' if not path.exists() else 'not a readable image'
        raise DataError(f'{path}: {reason}')
    if image.dtype != np.uint16 or image.ndim != 2:
        raise DataError(f'{path}: expected a 16-bit single-channel PNG, got {image.dtype} '
                        f'{image.shape}')
    return image


def intrinsics_matrix(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """(3, 3) float64 K in pixels from focal lengths and principal point."""
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], dtype=np.float64)


def read_number_lines(path: Path, columns: int | None = None) -> list[list[float]]:
    """Rows of whitespace-separated numbers; blank lines and '#' comments skipped.

    columns: required count per row (DataError naming the line otherwise).
    """
    if not path.is_file():
        raise DataError(f'{path}: file not found')
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split('#', 1)[0].strip()
        if not text:
            continue
        try:
            row = [float(v) for v in text.split()]
        except ValueError:
            raise DataError(f'{path}:{number}: not a row of numbers: {line.strip()!r}') from None
        if columns is not None and len(row) != columns:
            raise DataError(f'{path}:{number}: expected {columns} numbers, found {len(row)}')
        rows.append(row)
    return rows
