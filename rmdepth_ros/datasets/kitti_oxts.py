"""KITTI raw OXTS (GPS/IMU) packets -> camera poses, as the KITTI devkit's convertOxtsToPose.

Each `oxts/data/*.txt` line starts with lat, lon (degrees), alt (m), roll, pitch, yaw (rad).
The devkit maps position with a Mercator projection scaled at the first frame's latitude
(x east, y north, z up, metres) and orientation as R = Rz(yaw) Ry(pitch) Rx(roll): T_world_imu.
Camera k's pose is T_world_imu @ T_imu_camk, with T_camk_imu = [I | t_k] @ R_rect_00 @
T_velo_cam @ T_imu_velo. Returned poses are re-based so that frame 0's camera is the world
(pose 0 = identity, like KITTI odometry `poses.txt`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rmdepth_ros.datasets.image_files import read_number_lines
from rmdepth_ros.datasets.kitti_calib import calib_matrix, read_calib_file
from rmdepth_ros.datasets.sequence import DataError

EARTH_RADIUS = 6378137.0  # metres, as in the devkit


def _rotation(roll: float, pitch: float, yaw: float) -> np.ndarray:
    cr, sr, cp, sp, cy, sy = (np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch),
                              np.cos(yaw), np.sin(yaw))
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    return rz @ ry @ rx


def imu_poses(files: list[Path]) -> list[np.ndarray]:
    """T_world_imu (4x4) per OXTS file, in the devkit's Mercator frame."""
    packets = []
    for path in files:
        rows = read_number_lines(path)
        if len(rows) != 1 or len(rows[0]) < 6:
            raise DataError(f'{path}: expected one OXTS line of at least 6 numbers '
                            '(lat lon alt roll pitch yaw ...)')
        packets.append(rows[0])
    if not packets:
        return []
    scale = np.cos(np.radians(packets[0][0]))
    poses = []
    for lat, lon, alt, roll, pitch, yaw in (p[:6] for p in packets):
        pose = np.eye(4)
        pose[:3, :3] = _rotation(roll, pitch, yaw)
        pose[:3, 3] = [scale * EARTH_RADIUS * np.radians(lon),
                       scale * EARTH_RADIUS * np.log(np.tan(np.radians(90.0 + lat) / 2.0)),
                       alt]
        poses.append(pose)
    return poses


def imu_to_velo(path: Path) -> np.ndarray:
    """4x4 T_velo_imu from calib_imu_to_velo.txt (R, T)."""
    calib = read_calib_file(path)
    transform = np.eye(4)
    transform[:3, :3] = calib_matrix(calib, 'R', (3, 3), path)
    transform[:3, 3] = calib_matrix(calib, 'T', (3, 1), path)[:, 0]
    return transform


def camera_poses(files: list[Path], cam_from_imu: np.ndarray) -> list[np.ndarray]:
    """Camera-to-world 4x4 poses with frame 0's camera as the world.

    cam_from_imu: 4x4 T_cam_imu (rectified camera from IMU).
    """
    imu_from_cam = np.linalg.inv(cam_from_imu)
    world_cam = [pose @ imu_from_cam for pose in imu_poses(files)]
    if not world_cam:
        return []
    origin = np.linalg.inv(world_cam[0])
    return [origin @ pose for pose in world_cam]
