"""KITTI odometry frames with stereo pseudo-depth, and the rigid flow it gives with the poses.

Layout: a KITTI odometry folder (`KittiOdometrySequence`, left camera 0) plus
`<folder>/depth_stereo/NAME.png` (KITTI depth PNG: metres x 256, 0 = no value) for the first
frames, e.g. `../shared/data/kitti_odometry_00` (depth for frames 0-99, from OpenCV SGBM; its
README says how it was made and its limits). The sequence holds the leading frames that have a
depth file.

Flow ground truth (`rigid_flow_truth`): frame i's stereo depth carried by the ground-truth
camera motion T_prev_cur = pose[i-1]^-1 pose[i] into frame i-1 and projected there; the flow is
x - (that projection), the convention of docs/conventions.md (the point at x now was at
x - flow in the previous frame). It assumes a static scene (few things move in KITTI 00's
first frames) and does not test occlusion. Frame 0 has no flow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rmdepth_ros.datasets.depth_folder import read_kitti_depth
from rmdepth_ros.datasets.kitti import KittiOdometrySequence
from rmdepth_ros.datasets.sequence import DataError, Frame, Sequence

STEREO_DEPTH_FOLDER = 'depth_stereo'


def rigid_flow_truth(depth: np.ndarray, intrinsics: np.ndarray, prev_from_cur: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Flow of a static scene seen at `depth` when the camera moved by `prev_from_cur`.

    depth: (H, W) metres along the optical axis of the current frame, NaN / 0 = unknown;
    intrinsics: (3, 3) pixels (both frames); prev_from_cur: (4, 4) T_prev_cur, metres.
    Returns flow (H, W, 2) float32 pixels on the current grid, NaN where the depth is
    unknown, and valid (H, W) bool: known depth whose point lies in front of the previous
    camera and projects inside the previous image. Computed in float64 by the network's own
    geometry (`rmdepth_ros.model.geometry.rigid_flow`).
    """
    import torch

    from rmdepth_ros.model.geometry import rigid_flow

    depth = np.asarray(depth, np.float64)
    if depth.ndim != 2:
        raise ValueError(f'depth must be (H, W), got shape {depth.shape}')
    known = np.isfinite(depth) & (depth > 0)
    depth_t = torch.from_numpy(np.where(known, depth, 1.0))[None, None]
    K = torch.from_numpy(np.asarray(intrinsics, np.float64).reshape(3, 3))[None]
    T = torch.from_numpy(np.asarray(prev_from_cur, np.float64).reshape(4, 4))[None]
    flow, in_view = rigid_flow(depth_t, K, T)  # (1, 2, H, W), (1, 1, H, W)
    flow = flow[0].permute(1, 2, 0).numpy().astype(np.float32)
    flow[~known] = np.nan
    return flow, known & in_view[0, 0].numpy()


class KittiStereoSequence(Sequence):
    """The leading frames of a KITTI odometry folder that have stereo depth (module docstring).

    Frames carry depth (float32 metres, NaN = no value) and, from frame 1 on when the folder
    has poses, flow and flow_valid (`rigid_flow_truth`). poses: also give each frame its
    ground-truth pose (trajectory scoring); False leaves `pose` None.
    """

    def __init__(self, folder: str | Path, depth_folder: str = STEREO_DEPTH_FOLDER,
                 poses: bool = True) -> None:
        self.base = KittiOdometrySequence(folder, camera=0)
        self.name = f'{self.base.name} (stereo depth)'
        depth_dir = self.base.root / depth_folder
        if not depth_dir.is_dir():
            raise DataError(f'{depth_dir}: no stereo depth folder')
        self.depths = []
        for image in self.base.images:
            path = depth_dir / f'{image.stem}.png'
            if not path.is_file():
                break
            self.depths.append(path)
        if not self.depths:
            raise DataError(f'{depth_dir}: no depth PNG for the first frame '
                            f'{self.base.images[0].stem}')
        self.poses = poses

    def __len__(self) -> int:
        return len(self.depths)

    def __getitem__(self, index: int) -> Frame:
        path = self.depths[index]  # IndexError out of range, as a Sequence should
        index %= len(self)
        frame = self.base[index]
        frame.depth = read_kitti_depth(path)
        if frame.depth.shape != frame.image.shape[:2]:
            raise DataError(f'{path}: depth is {frame.depth.shape[1]}x{frame.depth.shape[0]}, '
                            f'the image {frame.image.shape[1]}x{frame.image.shape[0]}')
        truth = self.base.poses
        if index and truth is not None:
            prev_from_cur = np.linalg.inv(truth[index - 1]) @ truth[index]
            frame.flow, frame.flow_valid = rigid_flow_truth(frame.depth, frame.intrinsics,
                                                            prev_from_cur)
        if not self.poses:
            frame.pose = None
        return frame
