#!/usr/bin/env python3
"""docs/synth_looks.jpg: the synthetic world's two looks beside real KITTI frames.

Rows: classic look, photo look (three seeds), KITTI 07 and KITTI 06 (training video, gray),
each 640x192 with its depth (synthetic truth) or nothing (real).

    python training/tools/synth_looks_figure.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
from pathlib import Path
import warnings

import cv2
import numpy as np

from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

ROOT = Path(__file__).resolve().parents[2]
SIZE = (640, 192)


def colour_depth(depth: np.ndarray) -> np.ndarray:
    """BGR picture of depth (log scale, 2-80 m, near bright)."""
    d = np.where(np.isfinite(depth), depth, 80.0)
    v = 1.0 - np.clip(np.log(d / 2.0) / np.log(40.0), 0.0, 1.0)
    return cv2.applyColorMap((255 * v).astype(np.uint8), cv2.COLORMAP_MAGMA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', default=str(ROOT.parent / 'shared' / 'data'))
    parser.add_argument('--out', default=str(ROOT / 'docs' / 'synth_looks.jpg'))
    args = parser.parse_args()
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        for look, seed in (('classic', 4), ('photo', 4), ('photo', 7), ('photo', 21)):
            frame = SyntheticSequence(SynthConfig(width=SIZE[0], height=SIZE[1], frames=31,
                                                  seed=seed, look=look))[30]
            rows.append(np.concatenate([frame.image[..., ::-1], colour_depth(frame.depth)], 1))
    for name, index in (('kitti_odometry_07', 100), ('kitti_odometry_06', 30)):
        path = Path(args.data) / name / 'image_l' / f'{index:06d}.png'
        if path.is_file():
            image = cv2.resize(cv2.imread(str(path)), SIZE, interpolation=cv2.INTER_AREA)
            rows.append(np.concatenate([image, np.zeros_like(image)], 1))
    picture = cv2.resize(np.concatenate(rows, 0), None, fx=0.75, fy=0.75,
                         interpolation=cv2.INTER_AREA)
    cv2.imwrite(args.out, picture, [cv2.IMWRITE_JPEG_QUALITY, 80])
    print(args.out)


if __name__ == '__main__':
    main()
