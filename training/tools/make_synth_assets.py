#!/usr/bin/env python3
"""Build the photo textures the synthetic world's 'photo' look ships with.

Reads the CC0 library in ../shared/textures (MANIFEST.csv gives each file's source) and writes
small re-encoded copies to rmdepth_ros/synth/assets/: square colour maps at 256 px (JPEG
quality 85) and sky panoramas at 512x256. The leaf cut-out (RGBA) is composited over a dark
foliage green so it tiles as a crown. Rerun after changing the selection below:

    python training/tools/make_synth_assets.py [--library ../shared/textures]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
import numpy as np

OUT = Path(__file__).resolve().parents[2] / 'rmdepth_ros' / 'synth' / 'assets'
SIZE = 256
PANORAMA = (512, 256)

# Material groups of the 'photo' look: asset name -> group (rmdepth_ros.synth.photo.GROUPS).
SELECTION = {
    'facade': ['brick_wall_001', 'brick_wall_02', 'brick_wall_003', 'brick_wall_006',
               'brick_wall_07', 'brick_wall_09', 'brick_wall_10', 'brick_wall_12',
               'brick_wall_13', 'beige_wall_001', 'brushed_concrete', 'brushed_concrete_03',
               'blue_floor_tiles_01', 'brown_floor_tiles', 'box_profile_metal_sheet',
               'black_painted_planks', 'blue_painted_planks', 'beam_wall_01', 'broken_wall'],
    'asphalt': ['asphalt_01', 'asphalt_02', 'asphalt_03', 'asphalt_04', 'asphalt_06',
                'aerial_asphalt_01', 'asphalt_pit_lane'],
    'paving': ['brick_floor', 'brick_floor_02', 'anti_skid_tiles', 'anti_slip_concrete',
               'cobblestone_pavement'],
    'verge': ['sparse_grass', 'aerial_grass_rock', 'aerial_ground_rock', 'brown_mud_rocks_01',
              'Grass003', 'Ground037', 'Ground082S'],
    'bark': ['Bark014'],
    'leaves': ['LeafSet019'],
    'metal': ['blue_metal_plate'],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--library', default=str(Path(__file__).resolve().parents[3]
                                                  / 'shared' / 'textures'))
    args = parser.parse_args()
    library = Path(args.library)
    rows = list(csv.DictReader(open(library / 'MANIFEST.csv', encoding='utf-8')))
    by_name = {row['asset_name']: row for row in rows}
    OUT.mkdir(parents=True, exist_ok=True)
    index = []
    for group, names in SELECTION.items():
        for name in names:
            row = by_name[name]
            image = cv2.imread(str(library / row['file']), cv2.IMREAD_UNCHANGED)
            if image.ndim == 3 and image.shape[2] == 4:  # cut-out over dark foliage
                alpha = image[..., 3:].astype(np.float32) / 255.0
                under = np.array([20, 45, 25], np.float32)  # BGR
                image = (image[..., :3] * alpha + under * (1 - alpha)).astype(np.uint8)
            image = cv2.resize(image, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
            out = f'{group}_{name}.jpg'
            cv2.imwrite(str(OUT / out), image, [cv2.IMWRITE_JPEG_QUALITY, 85])
            index.append((out, group, name, row['source_site']))
    for row in rows:
        if row['category'] == 'panorama':
            image = cv2.imread(str(library / row['file']))
            image = cv2.resize(image, PANORAMA, interpolation=cv2.INTER_AREA)
            out = f'sky_{row["asset_name"]}.jpg'
            cv2.imwrite(str(OUT / out), image, [cv2.IMWRITE_JPEG_QUALITY, 85])
            index.append((out, 'sky', row['asset_name'], row['source_site']))
    with open(OUT / 'index.csv', 'w', encoding='utf-8', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['file', 'group', 'asset_name', 'source_site'])
        writer.writerows(index)
    print(f'{len(index)} files in {OUT}')


if __name__ == '__main__':
    main()
