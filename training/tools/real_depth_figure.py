#!/usr/bin/env python3
"""docs/real_depth.jpg: the shipped weights' depth on real images beside their measured depth.

Rows: KITTI odometry 00 (validation; stereo pseudo-depth) and the DDAD sample (LiDAR, dilated
for visibility). Columns: image | measured depth | the depth network's own depth | the
published depth (default Estimator settings: depth_source fused, after the video's previous
`VIDEO_FRAMES` frames; DDAD's single images have no motion, so there it is the network's),
each median-scaled to the measurement so that the colours compare. Log colour scale 2-80 m,
near bright, black = no measurement.

    python training/tools/real_depth_figure.py [--data ../shared/data] [--weights FILE]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from synth_looks_figure import colour_depth

from rmdepth_ros.datasets.kitti_stereo import KittiStereoSequence
from rmdepth_ros.inference import Estimator
from rmdepth_ros.open_sequence import open_sequence

ROOT = Path(__file__).resolve().parents[2]
PANEL_WIDTH = 320
KITTI_FRAMES = (12, 60)
VIDEO_FRAMES = 10  # frames of the video before the shown one (the depth filter's history)
DDAD_FRAMES = (3, 17)


def panel(image: np.ndarray, height: int) -> np.ndarray:
    return cv2.resize(image, (PANEL_WIDTH, height), interpolation=cv2.INTER_AREA)


def measured(depth: np.ndarray, dilate: int) -> np.ndarray:
    """Colour picture of a measured depth map; no measurement (0 / NaN) stays black."""
    valid = np.isfinite(depth) & (depth > 0)
    picture = colour_depth(np.where(valid, depth, np.nan))
    picture[~valid] = 0
    if dilate > 1:  # sparse LiDAR: spread each measured pixel so that it shows when shrunk
        kernel = np.ones((dilate, dilate), np.uint8)
        grown = cv2.dilate(picture, kernel)
        picture = np.where(picture.any(-1, keepdims=True), picture, grown)
    return picture


def row(estimator: Estimator, frames: list, dilate: int) -> np.ndarray:
    """One row for the last of `frames`, the others fed before it as its video."""
    estimator.reset('figure')
    for frame in frames:
        out = estimator.process(frame.image, frame.intrinsics, frame.timestamp)
    truth = np.asarray(frame.depth, np.float64)
    height = round(PANEL_WIDTH * frame.image.shape[0] / frame.image.shape[1])
    image = frame.image if frame.image.ndim == 3 else np.repeat(frame.image[..., None], 3, -1)
    panels = [panel(image[..., ::-1], height), panel(measured(truth, dilate), height)]
    for depth in (out.network_depth, out.depth):
        valid = np.isfinite(truth) & (truth > 0) & np.isfinite(depth)
        scale = np.median(truth[valid]) / np.median(depth[valid])
        panels.append(panel(colour_depth(depth * scale), height))
    return np.concatenate(panels, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', default=str(ROOT.parent / 'shared' / 'data'))
    parser.add_argument('--weights', help='weights file (default: the shipped weights)')
    parser.add_argument('--out', default=str(ROOT / 'docs' / 'real_depth.jpg'))
    args = parser.parse_args()
    estimator = Estimator(args.weights, device='cpu')
    kitti = KittiStereoSequence(Path(args.data) / 'kitti_odometry_00')
    ddad = open_sequence(str(Path(args.data) / 'ddad_sample'))
    rows = [row(estimator, [kitti[j] for j in range(i - VIDEO_FRAMES, i + 1)], 1)
            for i in KITTI_FRAMES]
    rows += [row(estimator, [ddad[i]], 9) for i in DDAD_FRAMES]
    cv2.imwrite(args.out, np.concatenate(rows, 0), [cv2.IMWRITE_JPEG_QUALITY, 80])
    print(args.out)


if __name__ == '__main__':
    main()
