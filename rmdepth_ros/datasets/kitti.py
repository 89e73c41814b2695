"""KITTI readers: raw drives (with projected-LiDAR depth, OXTS poses) and odometry sequences.

Raw layout (official):
    <root>/<date>/calib_cam_to_cam.txt, calib_velo_to_cam.txt, calib_imu_to_velo.txt
    <root>/<date>/<date>_drive_XXXX_sync/image_0K/data/*.png (+ image_0K/timestamps.txt)
    .../velodyne_points/data/*.bin, .../oxts/data/*.txt      (both optional)
Odometry layouts:
    official: <root>/sequences/XX/image_K/*.png, calib.txt ('P0: ...' lines), times.txt,
              <root>/poses/XX.txt
    small:    <folder>/image_l/*.png (camera 0), calib.txt (unlabelled 3x4 rows), poses.txt
Intrinsics: K = P_rect_0K[:, :3] / PK[:, :3] of the camera read. Poses: camera-to-world 4x4;
odometry poses.txt rows are cam0-to-world, so camera K's pose is T_world_cam0 @ [I | -t_K].
Gray cameras (0, 1) give (H, W) uint8 images. Raw timestamps.txt lines become seconds since the
Unix epoch (UTC assumed); odometry times.txt is used as is; without either, frame i is at i / 10 s.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rmdepth_ros.datasets import kitti_oxts
from rmdepth_ros.datasets.image_files import list_images, read_image, read_number_lines
from rmdepth_ros.datasets.kitti_calib import (
    calib_matrix,
    camera_offset,
    load_velodyne,
    read_calib_file,
    read_odometry_calib,
    velo_to_rect_cam0,
    velodyne_depth,
)
from rmdepth_ros.datasets.sequence import DataError, Frame, Sequence

KITTI_FPS = 10.0


def _by_stem(images: list[Path], folder: Path, suffix: str) -> list[Path]:
    """The file in `folder` with each image's stem, DataError naming the first missing one."""
    files = [folder / (image.stem + suffix) for image in images]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise DataError(f'{folder}: {len(missing)} of {len(images)} frames have no {suffix} '
                        f'file (first: {missing[0].name})')
    return files


def _parse_time(line: str, path: Path, number: int) -> float:
    """'2011-09-26 13:02:25.964389445' (UTC assumed) -> seconds since the epoch."""
    try:
        whole, _, fraction = line.strip().partition('.')
        base = datetime.strptime(whole, '%Y-%m-%d %H:%M:%S').replace(tzinfo=timezone.utc)
        return base.timestamp() + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)
    except ValueError:
        raise DataError(f'{path}:{number}: malformed timestamp {line.strip()!r}') from None


def _check_count(path: Path, what: str, count: int, images: int) -> None:
    if count != images:
        raise DataError(f'{path}: {count} {what} for {images} images')


class KittiRawSequence(Sequence):
    """One KITTI raw drive (`..._sync` folder) seen by camera `camera` (0-3, default 2).

    depth: project velodyne scans (when present) into depth ground truth.
    poses: read OXTS poses (when present). eigen_pixel_shift: see kitti_calib.
    """

    def __init__(self, drive: str | Path, camera: int = 2, depth: bool = True,
                 poses: bool = True, eigen_pixel_shift: bool = True) -> None:
        self.root = Path(drive)
        self.name = self.root.name
        image_dir = self.root / f'image_{camera:02d}'
        if not (image_dir / 'data').is_dir():
            found = sorted(p.name for p in self.root.glob('image_0*') if p.is_dir())
            raise DataError(f"{self.root}: no image_{camera:02d}/data (camera folders: "
                            f"{', '.join(found) or 'none'})")
        self.images = list_images(image_dir / 'data')
        if not self.images:
            raise DataError(f'{image_dir / "data"}: no images')
        calib_dir = self.root.parent
        cam_to_cam = calib_dir / 'calib_cam_to_cam.txt'
        self.projection = calib_matrix(read_calib_file(cam_to_cam), f'P_rect_{camera:02d}',
                                       (3, 4), cam_to_cam)
        self.intrinsics = self.projection[:, :3].copy()
        self.eigen_pixel_shift = eigen_pixel_shift
        self.timestamps = self._timestamps(image_dir / 'timestamps.txt')

        velo_dir = self.root / 'velodyne_points' / 'data'
        self.scans, self.velo_to_image = None, None
        velo_to_cam0 = None
        if (depth and velo_dir.is_dir()) or (poses and (self.root / 'oxts' / 'data').is_dir()):
            velo_to_cam0 = velo_to_rect_cam0(cam_to_cam, calib_dir / 'calib_velo_to_cam.txt')
        if depth and velo_dir.is_dir():
            self.scans = _by_stem(self.images, velo_dir, '.bin')
            self.velo_to_image = self.projection @ velo_to_cam0
        self.poses = None
        oxts_dir = self.root / 'oxts' / 'data'
        if poses and oxts_dir.is_dir():
            cam_from_cam0 = np.eye(4)
            cam_from_cam0[:3, 3] = camera_offset(self.projection)
            cam_from_imu = (cam_from_cam0 @ velo_to_cam0
                            @ kitti_oxts.imu_to_velo(calib_dir / 'calib_imu_to_velo.txt'))
            self.poses = kitti_oxts.camera_poses(_by_stem(self.images, oxts_dir, '.txt'),
                                                 cam_from_imu)

    def _timestamps(self, path: Path) -> list[float]:
        if not path.is_file():
            return [i / KITTI_FPS for i in range(len(self.images))]
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        _check_count(path, 'timestamps', len(lines), len(self.images))
        return [_parse_time(line, path, i + 1) for i, line in enumerate(lines)]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Frame:
        path = self.images[index]  # IndexError out of range, as a Sequence should
        index %= len(self)
        image = read_image(path)
        depth = None
        if self.scans is not None:
            depth = velodyne_depth(load_velodyne(self.scans[index]), self.velo_to_image,
                                   image.shape[:2], self.eigen_pixel_shift)
        return Frame(image=image, intrinsics=self.intrinsics.copy(),
                     timestamp=self.timestamps[index], depth=depth,
                     pose=None if self.poses is None else self.poses[index].copy(), index=index)


class KittiOdometrySequence(Sequence):
    """A KITTI odometry sequence folder (official or small layout, see the module docstring).

    camera: 0-3; default 2 when image_2 exists, else 0 (image_0 or image_l).
    """

    def __init__(self, folder: str | Path, camera: int | None = None) -> None:
        self.root = Path(folder)
        self.name = self.root.name
        image_dir, camera = self._image_dir(camera)
        self.images = list_images(image_dir)
        if not self.images:
            raise DataError(f'{image_dir}: no images')
        calib_path = self.root / 'calib.txt'
        calib = read_odometry_calib(calib_path)
        if f'P{camera}' not in calib:
            raise DataError(f"{calib_path}: no P{camera} for camera {camera} "
                            f"(has: {', '.join(sorted(calib)) or 'nothing'})")
        projection = calib[f'P{camera}']
        self.intrinsics = projection[:, :3].copy()
        times = self.root / 'times.txt'
        if times.is_file():
            rows = read_number_lines(times, columns=1)
            _check_count(times, 'times', len(rows), len(self.images))
            self.timestamps = [row[0] for row in rows]
        else:
            self.timestamps = [i / KITTI_FPS for i in range(len(self.images))]
        self.poses = self._poses(calib, projection)

    def _image_dir(self, camera: int | None) -> tuple[Path, int]:
        names = {0: ('image_0', 'image_l'), 1: ('image_1', 'image_r'), 2: ('image_2',),
                 3: ('image_3',)}
        order = [2, 0] if camera is None else [camera]
        for cam in order:
            for name in names.get(cam, ()):
                if (self.root / name).is_dir():
                    return self.root / name, cam
        found = sorted(p.name for p in self.root.glob('image_*') if p.is_dir())
        wanted = 'image_2 / image_0 / image_l' if camera is None else f'image_{camera}'
        raise DataError(f"{self.root}: no {wanted} folder (image folders: "
                        f"{', '.join(found) or 'none'})")

    def _poses(self, calib: dict[str, np.ndarray], projection: np.ndarray) -> list | None:
        official = self.root.parent.parent / 'poses' / f'{self.root.name}.txt'
        path = self.root / 'poses.txt'
        path = path if path.is_file() else official
        if not path.is_file():
            return None
        rows = read_number_lines(path, columns=12)
        _check_count(path, 'pose lines', len(rows), len(self.images))
        cam0_from_cam = np.eye(4)  # [I | -t_K]: rectified cameras differ by a translation
        cam0_from_cam[:3, 3] = camera_offset(calib.get('P0', projection)) - camera_offset(
            projection)
        poses = []
        for row in rows:
            pose = np.eye(4)
            pose[:3] = np.reshape(row, (3, 4))
            poses.append(pose @ cam0_from_cam)
        return poses

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Frame:
        path = self.images[index]
        index %= len(self)
        return Frame(image=read_image(path), intrinsics=self.intrinsics.copy(),
                     timestamp=self.timestamps[index],
                     pose=None if self.poses is None else self.poses[index].copy(), index=index)
