#!/usr/bin/env python3
"""A KITTI odometry folder (image_l/*.png, calib.txt, poses.txt) at half resolution.

Makes KITTI 06/07 small enough to copy to a GPU machine with the repository (see README.md
beside this file); the copies go to an ignored folder and are never committed.

    python training/gpu/halfres_kitti.py SRC_FOLDER DST_FOLDER
"""

from __future__ import annotations

from pathlib import Path
import shutil
import sys

import cv2
import numpy as np


def half_resolution(src: Path, dst: Path) -> tuple[int, int]:
    """Write the copy; returns its image size (width, height)."""
    (dst / 'image_l').mkdir(parents=True, exist_ok=True)
    files = sorted((src / 'image_l').glob('*.png'))
    height, width = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED).shape[:2]
    new_w, new_h = width // 2, height // 2
    sx, sy = new_w / width, new_h / height
    for path in files:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(dst / 'image_l' / path.name),
                    cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA))
    rows = []
    for line in (src / 'calib.txt').read_text().splitlines():
        if not line.strip():
            continue
        P = np.array([float(v) for v in line.split()]).reshape(3, 4)
        P[0] *= sx
        P[1] *= sy
        # About pixel centres: c' = (c + 0.5) s - 0.5.
        P[0, 2] += 0.5 * sx - 0.5
        P[1, 2] += 0.5 * sy - 0.5
        rows.append(' '.join(f'{v:.12e}' for v in P.ravel()))
    (dst / 'calib.txt').write_text('\n'.join(rows) + '\n')
    for name in ('poses.txt', 'times.txt'):
        if (src / name).exists():
            shutil.copy(src / name, dst / name)
    return new_w, new_h


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1].strip())
    size = half_resolution(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f'{sys.argv[2]}: {size[0]}x{size[1]}')
