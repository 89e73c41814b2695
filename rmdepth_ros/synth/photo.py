"""Photo textures of the synthetic world's 'photo' look: CC0 colour maps and sky panoramas.

The maps ship in `assets/` (made by training/tools/make_synth_assets.py; credits in
assets/NOTICE). Each map is a tileable square; a surface samples it at its own coordinates
(metres) divided by the material's tile size, so a texture sticks to its surface as the camera
moves. Sampling is trilinear over a mip pyramid chosen by the pixel footprint (metres per
pixel), so distant surfaces do not alias. Colours are linear (the maps' sRGB decoded with
gamma 2.2); `rmdepth_ros.synth.camera` encodes the image again.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
import functools
from pathlib import Path

import cv2
import numpy as np

ASSETS = Path(__file__).resolve().parent / 'assets'
LEVELS = 7  # mip levels: 256 ... 4 texels per side
# Metres covered by one tile of each material group.
TILE_METRES = {'facade': 3.0, 'asphalt': 4.0, 'paving': 2.5, 'verge': 4.0, 'bark': 1.2,
               'leaves': 1.5, 'metal': 1.5}


@dataclass(frozen=True)
class Library:
    """All colour maps as one mip-mapped atlas per level, and the sky panoramas.

    atlas[l]: (T * (s + 2), s + 2, 3) float32 linear RGB with s = 256 >> l, tile t in rows
    t * (s + 2) ... , each tile padded by one wrapped texel so bilinear lookups tile seamlessly.
    groups: group name -> tile indices; tile_metres: (T,) metres per tile; mean: (T, 3) mean
    colour; skies: list of (h, w, 3) float32 linear panoramas (equirectangular, top = zenith).
    """

    atlas: tuple[np.ndarray, ...]
    groups: dict[str, tuple[int, ...]]
    tile_metres: np.ndarray
    mean: np.ndarray
    skies: tuple[np.ndarray, ...]
    names: tuple[str, ...]


def _linear(image_bgr: np.ndarray) -> np.ndarray:
    rgb = image_bgr[..., ::-1].astype(np.float32) / np.float32(255.0)
    return np.power(rgb, np.float32(2.2))


@functools.lru_cache(maxsize=1)
def library() -> Library:
    """The shipped textures, loaded once per process."""
    index = ASSETS / 'index.csv'
    if not index.is_file():
        raise FileNotFoundError(f'synthetic-world textures missing: {index} (reinstall the '
                                'package or run training/tools/make_synth_assets.py)')
    rows = list(csv.DictReader(open(index, encoding='utf-8')))
    tiles, groups, metres, names, skies = [], {}, [], [], []
    for row in rows:
        image = cv2.imread(str(ASSETS / row['file']), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f'synthetic-world texture unreadable: {ASSETS / row["file"]}')
        if row['group'] == 'sky':
            skies.append(_linear(image))
            continue
        groups.setdefault(row['group'], []).append(len(tiles))
        tiles.append(_linear(image))
        metres.append(TILE_METRES[row['group']])
        names.append(row['asset_name'])
    atlas = []
    level = tiles
    for _ in range(LEVELS):
        padded = [np.pad(t, ((1, 1), (1, 1), (0, 0)), mode='wrap') for t in level]
        atlas.append(np.ascontiguousarray(np.concatenate(padded, 0)))
        level = [cv2.resize(t, (t.shape[1] // 2, t.shape[0] // 2), interpolation=cv2.INTER_AREA)
                 for t in level]
    return Library(tuple(atlas), {k: tuple(v) for k, v in groups.items()},
                   np.array(metres, np.float32), np.array([t.mean((0, 1)) for t in tiles]),
                   tuple(skies), tuple(names))


def _lookup(lib: Library, level: int, tile: np.ndarray, u: np.ndarray,
            v: np.ndarray) -> np.ndarray:
    """(n, 3) bilinear samples of mip `level` at tile coordinates u, v (tiles; any real)."""
    size = lib.atlas[0].shape[1] - 2 >> level
    x = u - np.floor(u)
    x *= np.float32(size)
    x += np.float32(0.5)  # texel centres; the wrapped pad starts at -0.5
    y = v - np.floor(v)
    y *= np.float32(size)
    y += (tile * (size + 2)).astype(np.float32) + np.float32(0.5)
    n = len(u)
    cols = 512
    rows = -(-n // cols)
    mx = np.zeros(rows * cols, np.float32)
    my = np.zeros(rows * cols, np.float32)
    mx[:n], my[:n] = x, y
    out = cv2.remap(lib.atlas[level], mx.reshape(rows, cols), my.reshape(rows, cols),
                    cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(-1, 3)[:n]


def sample(tile: np.ndarray, u: np.ndarray, v: np.ndarray,
           footprint: np.ndarray) -> np.ndarray:
    """(3, n) float32 linear colour of tiles `tile` (n,) int at surface coordinates u, v
    (metres, (n,)) for pixel footprints (metres per pixel, (n,))."""
    lib = library()
    n = len(u)
    out = np.empty((n, 3), np.float32)
    if n == 0:
        return out.T
    metres = lib.tile_metres[tile]
    tu, tv = u / metres, v / metres
    texels = footprint * (np.float32(lib.atlas[0].shape[1] - 2) / metres)
    lod = np.log2(np.maximum(texels, np.float32(1.0)))
    base = np.minimum(lod.astype(np.int32), LEVELS - 1)
    frac = np.clip(lod - base, 0.0, 1.0).astype(np.float32)
    for level in np.unique(base):
        pick = np.flatnonzero(base == level)
        a = _lookup(lib, int(level), tile[pick], tu[pick], tv[pick])
        if level + 1 < LEVELS:
            b = _lookup(lib, int(level) + 1, tile[pick], tu[pick], tv[pick])
        else:
            b = lib.mean[tile[pick]].astype(np.float32)
        f = frac[pick, None]
        out[pick] = a + f * (b - a)
    return out.T


def sky(index: int, azimuth: np.ndarray, elevation: np.ndarray) -> np.ndarray:
    """(3, n) linear colour of panorama `index` towards azimuth / elevation (radians)."""
    pano = library().skies[index]
    h, w = pano.shape[:2]
    x = (azimuth * np.float32(0.5 / np.pi) % np.float32(1.0)) * np.float32(w)
    y = (np.float32(0.5) - elevation * np.float32(1.0 / np.pi)) * np.float32(h)
    n = len(x)
    cols = 512
    rows = -(-n // cols)
    mx = np.zeros(rows * cols, np.float32)
    my = np.zeros(rows * cols, np.float32)
    mx[:n], my[:n] = x - np.float32(0.5), y - np.float32(0.5)
    out = cv2.remap(pano, mx.reshape(rows, cols), my.reshape(rows, cols), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_WRAP)
    return out.reshape(-1, 3)[:n].T
