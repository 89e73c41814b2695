"""The KITTI Eigen test protocol (spec 5.1, Monodepth2's evaluate_depth.py) on KITTI raw.

The test list has lines like '2011_09_26/2011_09_26_drive_0002_sync 0000000069 l' (697 of them
for the Eigen split); the ground truth is the velodyne scan projected into the image
(`rmdepth_ros.datasets.kitti`). Every image is evaluated alone (depth only, no temporal state):
the prediction at the image's full resolution (the estimator resizes disparity back), the
Garg crop, 1e-3 < gt < 80 m, per-image median scaling, the seven metrics averaged over images.
"""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from rmdepth_ros.datasets.kitti import KittiRawSequence
from rmdepth_ros.datasets.sequence import DataError
from rmdepth_ros.evaluation.metrics import depth_metrics, mean_metrics
from rmdepth_ros.evaluation.prediction import EstimatorLike

_CAMERAS = {'l': 2, 'r': 3}


def read_test_files(path: str | Path) -> list[tuple[str, str, int]]:
    """[(drive folder relative to the raw root, frame stem, camera 2 or 3)] of a split file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f'{path}: test file list not found')
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3 or parts[2] not in _CAMERAS or not parts[1].isdigit():
            raise DataError(f"{path}:{number}: expected 'DATE/DRIVE_sync FRAME l|r', got "
                            f'{line.strip()!r}')
        entries.append((parts[0], f'{int(parts[1]):010d}', _CAMERAS[parts[2]]))
    if not entries:
        raise DataError(f'{path}: no test images listed')
    return entries


def evaluate_kitti_eigen(root: str | Path, test_files: str | Path, estimator: EstimatorLike,
                         max_depth: float = 80.0, progress: bool = True) -> dict:
    """Mean median-scaled metrics over the listed images -> {'metrics', 'images', 'scales'}.

    Raises DataError naming the first listed image that is missing or has no velodyne scan.
    """
    root = Path(root)
    drives: dict[tuple[str, int], tuple[KittiRawSequence, dict[str, int]]] = {}
    rows = []
    for folder, stem, camera in tqdm(read_test_files(test_files), desc='kitti-eigen',
                                     unit='image', disable=not progress):
        if (folder, camera) not in drives:
            sequence = KittiRawSequence(root / folder, camera=camera, poses=False)
            drives[folder, camera] = (sequence, {p.stem: i for i, p in
                                                 enumerate(sequence.images)})
        sequence, index = drives[folder, camera]
        if stem not in index:
            raise DataError(f'{root / folder}: image_0{camera}/data/{stem} not found')
        frame = sequence[index[stem]]
        if frame.depth is None:
            raise DataError(f'{root / folder}: no velodyne scan for frame {stem}')
        if hasattr(estimator, 'reset'):
            estimator.reset('next test image')
        output = estimator.process(frame.image, frame.intrinsics, frame.timestamp,
                                   compute_motion=False)
        row = depth_metrics(frame.depth, output.depth, 1e-3, max_depth, True, 'garg')
        if row is not None:
            rows.append(row)
    return {'metrics': mean_metrics(rows), 'images': len(rows), 'crop': 'garg',
            'max_depth_m': max_depth, 'median_scaling': True}
