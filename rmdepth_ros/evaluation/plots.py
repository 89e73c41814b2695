"""PNG figures of an evaluation: trajectory from above, errors over time, sample-frame mosaic.

matplotlib with the Agg backend (no display needed); the mosaic is drawn with OpenCV using the
node's own colour maps so it looks like rviz would.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import matplotlib
import numpy as np

from rmdepth_ros.datasets.sequence import Frame
from rmdepth_ros.evaluation.prediction import Prediction
from rmdepth_ros.evaluation.scoring import FrameScore
from rmdepth_ros.evaluation.trajectory import align, umeyama
from rmdepth_ros.ros.colormaps import colorize_depth, colorize_flow, overlay_mask

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

_AXES = 'xyz'


def plot_trajectory(gt_poses: np.ndarray, pred_poses: np.ndarray, path: Path) -> Path:
    """Ground truth and sim(3)-aligned prediction seen from above.

    "Above" = along the world axis closest to the cameras' mean optical y axis (down), so the
    plot is the x-z plane of a camera-frame world and the x-y plane of an odom (REP 103) frame.
    """
    gt = gt_poses[:, :3, 3]
    pred = align(pred_poses[:, :3, 3], *umeyama(pred_poses[:, :3, 3], gt))
    up = int(np.argmax(np.abs(gt_poses[:, :3, 1].mean(axis=0))))
    a, b = [axis for axis in range(3) if axis != up]
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.plot(gt[:, a], gt[:, b], 'k-', label='ground truth')
    ax.plot(pred[:, a], pred[:, b], 'r--', label='predicted (sim(3) aligned)')
    ax.plot(gt[0, a], gt[0, b], 'go', label='start')
    ax.set_xlabel(f'{_AXES[a]} (m)')
    ax.set_ylabel(f'{_AXES[b]} (m)')
    ax.set_aspect('equal', adjustable='datalim')
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title('trajectory from above')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_errors(scores: list[FrameScore], path: Path) -> Path:
    """Per-frame AbsRel (median-scaled), flow EPE, mask IoU and latency against time (s)."""
    t = np.array([s.timestamp for s in scores])
    t = t - t[0] if len(t) else t
    series = [('abs_rel', 'depth AbsRel (median-scaled)'), ('flow_epe', 'flow EPE (px)'),
              ('mask_iou', 'moving-object IoU'), ('latency_ms', 'latency (ms)')]
    series = [(key, label) for key, label in series
              if any(np.isfinite(getattr(s, key)) for s in scores)]
    fig, axes = plt.subplots(max(len(series), 1), 1, figsize=(8, 2.2 * max(len(series), 1)),
                             sharex=True, squeeze=False)
    for ax, (key, label) in zip(axes[:, 0], series, strict=True):
        ax.plot(t, [getattr(s, key) for s in scores], '.-', markersize=3)
        ax.set_ylabel(label, fontsize=8)
        ax.grid(True, alpha=0.3)
    if not series:
        axes[0, 0].text(0.5, 0.5, 'no per-frame errors (no ground truth)', ha='center')
    axes[-1, 0].set_xlabel('time since the first frame (s)')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    tile = np.ascontiguousarray(tile)
    cv2.putText(tile, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1,
                cv2.LINE_AA)
    return tile


def _error_tile(frame: Frame, pred: Prediction, shape: tuple[int, int]) -> np.ndarray:
    """|pred - gt| / gt after median scaling, 0 (black) .. 0.5 (white), grey where no gt."""
    tile = np.full(shape + (3,), 64, np.uint8)
    if frame.depth is None or pred.depth is None:
        return tile
    with np.errstate(invalid='ignore', divide='ignore'):
        valid = np.isfinite(frame.depth) & np.isfinite(pred.depth) & (frame.depth > 0)
        if not valid.any():
            return tile
        scale = np.median(frame.depth[valid]) / np.median(pred.depth[valid])
        error = np.abs(pred.depth * scale - frame.depth) / frame.depth
    grey = (np.clip(np.nan_to_num(error) / 0.5, 0, 1) * 255).astype(np.uint8)
    tile[valid] = cv2.applyColorMap(grey, cv2.COLORMAP_INFERNO)[valid]
    return tile


def mosaic(samples: list[tuple[Frame, Prediction]], path: Path) -> Path:
    """One row per sample: input | depth | flow | motion mask | depth error (bgr8 PNG)."""
    rows = []
    for frame, pred in samples:
        image = frame.image if frame.image.ndim == 3 else np.repeat(frame.image[..., None], 3, 2)
        shape = image.shape[:2]
        blank = np.zeros(shape + (3,), np.uint8)
        depth = colorize_depth(pred.depth) if pred.depth is not None else blank
        flow = colorize_flow(pred.flow) if pred.flow is not None else blank
        mask = (overlay_mask(image, pred.motion_mask) if pred.motion_mask is not None
                else cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        tiles = [cv2.cvtColor(image, cv2.COLOR_RGB2BGR), depth, flow, mask,
                 _error_tile(frame, pred, shape)]
        names = [f'input #{frame.index}', 'depth', 'flow', 'motion mask', 'AbsRel error']
        tiles = [_label(cv2.resize(t, (shape[1], shape[0])), n)
                 for t, n in zip(tiles, names, strict=True)]
        rows.append(np.hstack(tiles))
    if not rows:
        rows = [np.zeros((32, 160, 3), np.uint8)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    if not cv2.imwrite(str(path), np.vstack(rows)):
        raise OSError(f'{path}: could not write the mosaic')
    return path
