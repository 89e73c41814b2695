"""A folder of images (png / jpg / jpeg, sorted by file name) with one set of intrinsics.

Intrinsics: the `intrinsics` argument (3x3 K, [fx, fy, cx, cy], or the path of a file), else
the first of intrinsics.yaml, intrinsics.yml, intrinsics.json, camera_info.yaml, camera.yaml,
calibration.yaml in the folder; file formats in `intrinsics_file`. Frame i is stamped
`start_time + i / fps` seconds. No ground truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rmdepth_ros.datasets.image_files import list_images, read_image
from rmdepth_ros.datasets.intrinsics_file import (
    shared_intrinsics,
)
from rmdepth_ros.datasets.sequence import DataError, Frame, Sequence


class FolderSequence(Sequence):
    """Images in `folder`; see the module docstring for intrinsics and timestamps."""

    def __init__(self, folder: str | Path, intrinsics: object = None, fps: float = 10.0,
                 start_time: float = 0.0) -> None:
        self.root = Path(folder)
        self.name = self.root.name
        if not fps > 0:
            raise DataError(f'{self.root}: fps must be positive, got {fps}')
        self.fps, self.start_time = float(fps), float(start_time)
        self.images = list_images(self.root)
        if not self.images:
            raise DataError(f'{self.root}: no .png / .jpg / .jpeg images')
        self.size: tuple[int, int] | None = None
        self.intrinsics, self.size = shared_intrinsics(self.root, intrinsics, 'no intrinsics file')

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Frame:
        path = self.images[index]
        index %= len(self)
        image = read_image(path)
        if self.size is not None and self.size != (image.shape[1], image.shape[0]):
            raise DataError(f'{path}: image is {image.shape[1]}x{image.shape[0]} but the '
                            f'intrinsics are for {self.size[0]}x{self.size[1]}')
        return Frame(image=image, intrinsics=np.array(self.intrinsics),
                     timestamp=self.start_time + index / self.fps, index=index)
