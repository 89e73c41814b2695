"""open_sequence: pick the reader for a path from what is on disk.

Checked in this order (first match wins):

1. ROS 2 bag: a .mcap / .db3 file, or a folder with metadata.yaml or a .mcap / .db3 file;
2. KITTI raw drive: a folder with image_0K/data (e.g. 2011_09_26_drive_0001_sync);
3. KITTI odometry: a folder with calib.txt and image_0..3 or image_l;
4. TUM RGB-D: a folder with rgb.txt;
5. Cityscapes: a folder with *_leftImg8bit.png files;
6. images with depth: a folder with a depth/ folder and images (in images/ or in the folder);
7. a plain folder of .png / .jpg / .jpeg images.

Keyword options go to the chosen reader's constructor; an option it does not take is an error.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from rmdepth_ros.datasets.cityscapes import CityscapesSequence
from rmdepth_ros.datasets.depth_folder import DepthFolderSequence
from rmdepth_ros.datasets.folder import FolderSequence
from rmdepth_ros.datasets.image_files import list_images
from rmdepth_ros.datasets.kitti import KittiOdometrySequence, KittiRawSequence
from rmdepth_ros.datasets.sequence import DataError, Sequence
from rmdepth_ros.datasets.tum import TumSequence

_BAG_SUFFIXES = ('.mcap', '.db3')


def _bag_reader() -> type[Sequence]:
    # Imported when a bag is opened: reading image folders needs no rosbags (training machines).
    from rmdepth_ros.bags.reader import BagSequence

    return BagSequence


def detect_reader(path: Path) -> type[Sequence] | None:
    """The reader class for `path`, or None when no layout matches."""
    if path.is_file():
        return _bag_reader() if path.suffix in _BAG_SUFFIXES else None
    if not path.is_dir():
        return None
    if (path / 'metadata.yaml').is_file() or any(
            p.suffix in _BAG_SUFFIXES for p in path.iterdir() if p.is_file()):
        return _bag_reader()
    if any((path / f'image_0{k}' / 'data').is_dir() for k in range(4)):
        return KittiRawSequence
    if (path / 'calib.txt').is_file() and any(
            (path / name).is_dir() for name in ('image_0', 'image_1', 'image_2', 'image_3',
                                                'image_l')):
        return KittiOdometrySequence
    if (path / 'rgb.txt').is_file():
        return TumSequence
    if any(path.glob('*_leftImg8bit.png')):
        return CityscapesSequence
    if (path / 'depth').is_dir() and (
            ((path / 'images').is_dir() and list_images(path / 'images')) or list_images(path)):
        return DepthFolderSequence
    if list_images(path):
        return FolderSequence
    return None


def open_sequence(path: str | Path, **options: object) -> Sequence:
    """Open `path` with the matching reader (see the module docstring) -> a Sequence.

    Raises DataError when the path is missing, matches no layout, or an option does not apply.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f'{path}: no such file or folder')
    reader = detect_reader(path)
    if reader is None:
        raise DataError(f'{path}: not a recognised sequence (expected a ROS 2 bag, a KITTI raw '
                        'drive or odometry sequence, a TUM RGB-D folder, a Cityscapes city '
                        'folder, a folder of images with depth/, or a folder of images)')
    accepted = set(list(inspect.signature(reader.__init__).parameters)[2:])  # not self, path
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise DataError(f"{path}: {reader.__name__} does not take option(s) "
                        f"{', '.join(unknown)} (it takes: {', '.join(sorted(accepted))})")
    return reader(path, **options)
