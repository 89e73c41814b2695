"""Procedural surface appearance of the synthetic world: noise, patterns, markings, lighting.

Every colour is a function of a surface point's own coordinates (box-local face coordinates,
road coordinates or road-world ground coordinates), so textures stick to objects as they move
and a photometric loss sees a consistent signal. Detail is band-limited by the pixel footprint
(metres per pixel on the surface): noise octaves and patterns fade to their mean when they
become smaller than a pixel, like mip-mapping, so distant surfaces do not alias.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import cv2
import numpy as np

TEX = 256  # texels per side of the tileable noise textures
OCTAVES = (0.05, 0.2, 0.8)  # texel size of each noise octave, metres
WEIGHTS = (0.35, 0.4, 0.35)
GROUND_PERIOD = 409.6  # metres; multiple of every octave's period TEX * texel
DASH_PERIOD, DASH = 12.8, 4.8  # lane-separator dashes, metres
LINE_WIDTH = 0.15
TILE = 0.4  # sidewalk paving, metres
S_PERIOD = 51.2  # metres; multiple of DASH_PERIOD and TILE (arc lengths are used modulo it)


@dataclass(frozen=True)
class Lighting:
    """Per-sequence light: ambient and sun strength, sun direction (unit, road-world, pointing
    from the surface towards the sun; y is down), colour tint and exposure, sky colours."""

    ambient: float
    sun: float
    sun_dir: tuple[float, float, float]
    tint: tuple[float, float, float]
    sky_horizon: tuple[float, float, float]
    sky_zenith: tuple[float, float, float]

    @staticmethod
    def random(rng: np.random.Generator) -> Lighting:
        elev, azim = rng.uniform(0.4, 1.1), rng.uniform(0.0, 2 * math.pi)
        sun_dir = (math.cos(elev) * math.sin(azim), -math.sin(elev),
                   math.cos(elev) * math.cos(azim))
        exposure = rng.uniform(0.9, 1.1)
        tint = tuple(float(exposure * rng.uniform(0.95, 1.05)) for _ in range(3))
        return Lighting(rng.uniform(0.45, 0.6), rng.uniform(0.35, 0.55), sun_dir, tint,
                        tuple(float(c) for c in rng.uniform([0.75, 0.8, 0.85], [0.85, 0.9, 0.95])),
                        tuple(float(c) for c in rng.uniform([0.3, 0.45, 0.7], [0.45, 0.6, 0.85])))

    def shade(self, normals: np.ndarray) -> np.ndarray:
        """Lambertian factor for road-world unit normals (..., 3)."""
        return self.ambient + self.sun * np.maximum(normals @ np.array(self.sun_dir), 0.0)


def _tileable_noise(rng: np.random.Generator) -> np.ndarray:
    """(TEX + 1, TEX + 1) float32 band-limited periodic noise, unit std, one wrapped border."""
    white = rng.standard_normal((TEX, TEX))
    f = np.fft.fftfreq(TEX)
    radius2 = f[:, None] ** 2 + f[None, :] ** 2
    smooth = np.real(np.fft.ifft2(np.fft.fft2(white) * np.exp(-radius2 * (2 * math.pi) ** 2)))
    smooth /= smooth.std()
    return np.pad(smooth, ((0, 1), (0, 1)), mode='wrap').astype(np.float32)


def coverage(c: np.ndarray, lo, hi, fp: np.ndarray) -> np.ndarray:
    """Fraction of the footprint [c - fp/2, c + fp/2] inside [lo, hi] (box-filtered step)."""
    half = fp * np.float32(0.5)
    inside = np.minimum(c + half, hi)
    inside -= np.maximum(c - half, lo)
    inside /= fp
    return np.clip(inside, 0.0, 1.0, out=inside)


def periodic_coverage(x: np.ndarray, period, lo, hi, fp: np.ndarray, mean=None) -> np.ndarray:
    """Box-filtered indicator of [lo, hi] repeated every `period` (scalars or arrays, metres),
    fading to its mean (computed unless given) once the footprint exceeds half a period."""
    cell = x - period * np.floor(x / period)
    cov = coverage(cell, lo, hi, fp)
    if mean is None:
        mean = (np.minimum(hi, period) - np.maximum(lo, 0.0)) / period
    fade = np.clip(fp * (2.0 / period) - 1.0, 0.0, 1.0)
    fade *= mean - cov
    cov += fade
    return cov


class Textures:
    """Multi-octave noise lookups in three tileable textures."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.layers = [_tileable_noise(rng) for _ in OCTAVES]

    def noise(self, u: np.ndarray, v: np.ndarray, footprint: np.ndarray) -> np.ndarray:
        """Noise at surface coordinates u, v (metres), faded by footprint (metres per pixel).
        All (H, W) float32; result has roughly unit amplitude."""
        total = np.zeros_like(u)
        scale = np.float32(1.0 / TEX)
        for layer, texel, weight in zip(self.layers, OCTAVES, WEIGHTS, strict=True):
            # Full weight up to a footprint of one texel, none from 2.5 texels on.
            w = footprint * np.float32(-1.0 / (1.5 * texel))
            w += np.float32(2.5 / 1.5)
            np.clip(w, 0.0, 1.0, out=w)
            w *= np.float32(weight)
            if not w.any():
                continue
            mu, mv = u * np.float32(1.0 / texel), v * np.float32(1.0 / texel)
            mu -= np.floor(mu * scale) * TEX
            mv -= np.floor(mv * scale) * TEX
            total += w * cv2.remap(layer, mu, mv, cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE)
        return total


def _step(x: np.ndarray, edge: float, inv_fp: np.ndarray) -> np.ndarray:
    """Soft 0 -> 1 step of x across `edge`, one footprint wide."""
    out = (x - np.float32(edge)) * inv_fp
    out += np.float32(0.5)
    return np.clip(out, 0.0, 1.0, out=out)


ASPHALT = np.array([0.30, 0.30, 0.31], np.float32)
PAINT = np.array([0.88, 0.88, 0.85], np.float32)
KERB = np.array([0.62, 0.61, 0.60], np.float32)
PAVING = np.array([0.50, 0.49, 0.46], np.float32)
VERGE = np.array([0.30, 0.34, 0.18], np.float32)


def markings(s: np.ndarray, ad: np.ndarray, fp_along: np.ndarray, fp_across: np.ndarray,
             carriageway: float, lane_width: float, lanes: int) -> tuple[np.ndarray, np.ndarray]:
    """Lane markings: indices `near` of the points with |d| = ad near the carriageway and
    their paint coverage in [0, 1] (centre line, edge lines, dashed lane separator)."""
    near = np.flatnonzero(ad < carriageway + 0.5)
    if not len(near):
        return near, np.zeros(0, np.float32)
    a, fa, fs = ad[near], fp_across[near], fp_along[near]
    paint = coverage(a, -LINE_WIDTH / 2, LINE_WIDTH / 2, fa)
    paint += coverage(a, carriageway - LINE_WIDTH, carriageway, fa)
    if lanes == 2:
        paint += periodic_coverage(s[near], DASH_PERIOD, 0.0, DASH, fs) \
            * coverage(a, lane_width - LINE_WIDTH / 2, lane_width + LINE_WIDTH / 2, fa)
    return near, np.minimum(paint, 1.0)


def ground_albedo(s: np.ndarray, d: np.ndarray, fp_along: np.ndarray, fp_across: np.ndarray,
                  carriageway: float, lane_width: float, lanes: int, kerb: float,
                  building_line: float) -> tuple[np.ndarray, np.ndarray]:
    """Colour (3, n) and noise amplitude (n,) of ground points at road coordinates (s, d).

    s: arc length (any multiple of S_PERIOD may be added), d: lateral offset; float32 metres,
    (n,); fp_along, fp_across: pixel footprints along and across the road, metres.
    Across the road: asphalt with markings | kerb stone | paved sidewalk | verge.
    """
    ad = np.abs(d)
    inv = np.float32(1.0) / fp_across
    e1 = _step(ad, kerb, inv)
    e2 = _step(ad, kerb + 0.25, inv)
    e3 = _step(ad, building_line, inv)
    color = np.empty((3, len(s)), np.float32)
    for c in range(3):
        color[c] = e1 * (KERB[c] - ASPHALT[c]) + ASPHALT[c]
        color[c] += e2 * (PAVING[c] - KERB[c])
        color[c] += e3 * (VERGE[c] - PAVING[c])
    amp = e1 * np.float32(-0.15) + np.float32(0.3)
    amp += e3 * np.float32(0.3)
    near, paint = markings(s, ad, fp_along, fp_across, carriageway, lane_width, lanes)
    if len(near):
        paint *= 1.0 - e1[near]
        for c in range(3):
            color[c, near] += paint * (PAINT[c] - ASPHALT[c])
    walk = np.flatnonzero((ad > kerb) & (ad < building_line + 0.5))  # paving joints
    if len(walk):
        a, fa, fs = ad[walk], fp_across[walk], fp_along[walk]
        joints = periodic_coverage(s[walk], TILE, 0.02, TILE, fs) \
            * periodic_coverage(a, TILE, 0.02, TILE, fa)
        joints = (joints - 1.0) * (e2[walk] - e3[walk]) * np.float32(0.25)
        for c in range(3):
            color[c, walk] += joints * PAVING[c]
    return color, amp


def box_albedo(u: np.ndarray, v: np.ndarray, fp: np.ndarray, color: np.ndarray,
               color2: np.ndarray, pattern: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Colour (3, n) of vertical box faces at face coordinates u, v (metres from the face's top
    corner, v downwards); fp: (n,) footprint, metres; color, color2: (3, n); pattern: (6, n)
    per point (see `synth_boxes.BoxTable`); mean: (2, n) mean pattern coverage along u and v."""
    mask = periodic_coverage(u, pattern[0], pattern[2], pattern[3], fp, mean[0])
    mask *= periodic_coverage(v, pattern[1], pattern[4], pattern[5], fp, mean[1])
    return color + (color2 - color) * mask
