"""KITTI calibration files, velodyne scans and the standard projected-LiDAR depth ground truth.

Frames: velodyne (x forward, y left, z up) -> unrectified cam0 by `calib_velo_to_cam.txt`
(R, T) -> rectified cam0 by R_rect_00 -> rectified camera k by P_rect_0k = K [I | t_k].

Depth ground truth follows the standard Eigen et al. evaluation (as re-implemented in
monodepth2's `generate_depth_map`): drop points behind the LiDAR (x_velo < 0), project with
P_rect_0k @ R_rect_00 @ T_velo_cam, depth = the third projected coordinate (rectified z plus
P[2, 3], a few mm), pixel = round(u) - 1, round(v) - 1, keep in-image pixels, and where several
points land on one pixel keep the nearest. Pixels without a point are NaN (our "unknown").

Why "- 1": the reference ground truth was made by MATLAB code that indexes pixels from 1, so the
pixel it fills for a projection (u, v) is MATLAB index round(u), i.e. 0-based column round(u) - 1.
Read literally with the OpenCV convention of docs/conventions.md (pixel (0, 0) centred on the
first pixel) the point belongs to column round(u): the reference maps sit one pixel up-left of
geometry. We reproduce the reference by default (`eigen_pixel_shift=True`) so that numbers are
comparable with published results; pass False for the geometrically consistent placement.
One deliberate difference: points with non-positive depth (within ~0.27 m of the LiDAR,
between it and the camera plane) are dropped instead of zeroing the pixel they project to.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rmdepth_ros.datasets.sequence import DataError


def read_calib_file(path: Path) -> dict[str, np.ndarray]:
    """'key: numbers' lines -> {key: float64 vector}; non-numeric values (calib_time) skipped."""
    if not path.is_file():
        raise DataError(f'{path}: calibration file not found')
    values: dict[str, np.ndarray] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, rest = line.partition(':')
        if not sep or not key.strip():
            raise DataError(f"{path}:{number}: malformed calibration line (no 'key:'): "
                            f'{line.strip()!r}')
        try:
            values[key.strip()] = np.array([float(v) for v in rest.split()])
        except ValueError:
            continue  # e.g. 'calib_time: 09-Jan-2012 13:57:47'
    return values


def calib_matrix(calib: dict[str, np.ndarray], key: str, shape: tuple[int, int],
                 path: Path) -> np.ndarray:
    """The entry `key` reshaped to `shape`, or DataError naming the file and key."""
    if key not in calib:
        raise DataError(f'{path}: missing calibration entry {key!r} '
                        f"(has: {', '.join(sorted(calib)) or 'nothing'})")
    values = calib[key]
    if values.size != shape[0] * shape[1]:
        raise DataError(f'{path}: {key} has {values.size} numbers, expected '
                        f'{shape[0] * shape[1]}')
    return values.reshape(shape)


def camera_offset(projection: np.ndarray) -> np.ndarray:
    """t_k of P = K [I | t_k] (metres): rectified camera k from rectified camera 0, (3,)."""
    return np.linalg.solve(projection[:, :3], projection[:, 3])


def velo_to_rect_cam0(cam_to_cam: Path, velo_to_cam: Path) -> np.ndarray:
    """4x4 T mapping velodyne points into the rectified cam0 frame: R_rect_00 @ [R | T]."""
    cam_calib = read_calib_file(cam_to_cam)
    velo_calib = read_calib_file(velo_to_cam)
    rect = np.eye(4)
    rect[:3, :3] = calib_matrix(cam_calib, 'R_rect_00', (3, 3), cam_to_cam)
    velo = np.eye(4)
    velo[:3, :3] = calib_matrix(velo_calib, 'R', (3, 3), velo_to_cam)
    velo[:3, 3] = calib_matrix(velo_calib, 'T', (3, 1), velo_to_cam)[:, 0]
    return rect @ velo


def load_velodyne(path: Path) -> np.ndarray:
    """A KITTI .bin scan -> (N, 4) float32 x, y, z (metres, velodyne frame), reflectance."""
    if not path.is_file():
        raise DataError(f'{path}: velodyne scan not found')
    raw = np.fromfile(path, dtype='<f4')
    if raw.size % 4:
        raise DataError(f'{path}: size {raw.size * 4} bytes is not a whole number of '
                        '16-byte points (x, y, z, reflectance float32)')
    return raw.reshape(-1, 4)


def velodyne_depth(points: np.ndarray, velo_to_image: np.ndarray, size_hw: tuple[int, int],
                   eigen_pixel_shift: bool = True) -> np.ndarray:
    """Sparse depth map (H, W) float32 metres from velodyne points (N, >=3); NaN = no point.

    velo_to_image: 3x4 P_rect_0k @ R_rect_00 @ T_velo_cam. See the module docstring.
    """
    height, width = size_hw
    xyz = np.asarray(points, dtype=np.float64)[:, :3]
    xyz = xyz[xyz[:, 0] >= 0.0]  # in front of the LiDAR
    projected = np.hstack([xyz, np.ones((len(xyz), 1))]) @ velo_to_image.T  # (N, 3)
    projected = projected[projected[:, 2] > 0.0]
    depth = projected[:, 2]
    u = np.round(projected[:, 0] / depth)
    v = np.round(projected[:, 1] / depth)
    if eigen_pixel_shift:
        u, v = u - 1, v - 1
    inside = (u >= 0) & (v >= 0) & (u < width) & (v < height)
    u, v, depth = u[inside].astype(np.int64), v[inside].astype(np.int64), depth[inside]
    result = np.full(height * width, np.inf)
    np.minimum.at(result, v * width + u, depth)  # nearest point wins per pixel
    result[np.isinf(result)] = np.nan
    return result.reshape(height, width).astype(np.float32)


def read_odometry_calib(path: Path) -> dict[str, np.ndarray]:
    """KITTI odometry calib.txt -> {'P0': 3x4, ...}.

    Accepts the labelled official form ('P0: 12 numbers', also 'Tr:') and the unlabelled form
    (one 3x4 matrix per line, line k = Pk).
    """
    if not path.is_file():
        raise DataError(f'{path}: calibration file not found')
    matrices: dict[str, np.ndarray] = {}
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    for number, line in enumerate(lines):
        key, sep, rest = line.partition(':')
        key, text = (key.strip(), rest) if sep else (f'P{number}', line)
        try:
            values = [float(v) for v in text.split()]
        except ValueError:
            raise DataError(f'{path}: malformed calibration line {line.strip()!r}') from None
        if len(values) != 12:
            raise DataError(f'{path}: {key} has {len(values)} numbers, expected 12 (3x4)')
        matrices[key] = np.array(values).reshape(3, 4)
    return matrices
