"""Training augmentation (spec 4.3): horizontal flip with matching intrinsics, and colour jitter.

One random draw per training sample applies to every frame of its triplet, so the frames stay
photometrically and geometrically consistent. Jitter produces a second copy of the frames for
the networks; the losses compare the un-jittered copies.
"""

from __future__ import annotations

import numpy as np

from rmdepth_training.config import AugmentConfig


def flip_intrinsics(K: np.ndarray, width: int) -> np.ndarray:
    """Intrinsics (3, 3) of the horizontally flipped image of width `width` pixels.

    Pixel x maps to W - 1 - x (pixel-centre convention, docs/conventions.md), so
    cx' = W - 1 - cx; the skew changes sign, fx, fy, cy are unchanged.
    """
    flipped = np.array(K, dtype=np.float64, copy=True)
    flipped[0, 2] = width - 1 - K[0, 2]
    flipped[0, 1] = -K[0, 1]
    return flipped


def _gray(images: np.ndarray) -> np.ndarray:
    """Luma (ITU-R 601) of RGB images (..., H, W, 3) -> (..., H, W, 1)."""
    return images @ np.array([0.299, 0.587, 0.114], dtype=images.dtype)[:, None]


def _rotate_hue(images: np.ndarray, turns: float) -> np.ndarray:
    """Rotate the hue of RGB images (..., 3) by `turns` of the colour wheel (YIQ rotation).

    A rotation of the chroma plane keeps the luma, is exact for any angle and costs one 3x3
    matrix product (no RGB -> HSV round trip).
    """
    to_yiq = np.array([[0.299, 0.587, 0.114],
                       [0.596, -0.274, -0.322],
                       [0.211, -0.523, 0.312]], dtype=np.float64)
    angle = 2 * np.pi * turns
    rotate = np.array([[1, 0, 0],
                       [0, np.cos(angle), -np.sin(angle)],
                       [0, np.sin(angle), np.cos(angle)]])
    matrix = (np.linalg.inv(to_yiq) @ rotate @ to_yiq).astype(images.dtype)
    return images @ matrix.T


def colour_jitter(images: np.ndarray, brightness: float, contrast: float, saturation: float,
                  hue: float) -> np.ndarray:
    """Apply fixed jitter factors to RGB images (..., H, W, 3) float in [0, 1]; output clipped.

    brightness, contrast, saturation: multiplicative factors (1 = unchanged); hue: turns.
    Contrast blends with each image's mean gray level, saturation with each pixel's gray.
    """
    out = images * brightness
    mean = _gray(out).mean(axis=(-3, -2, -1), keepdims=True)
    out = (out - mean) * contrast + mean
    gray = _gray(out)
    out = (out - gray) * saturation + gray
    if hue:
        out = _rotate_hue(out, hue)
    return np.clip(out, 0.0, 1.0)


def augment(images: np.ndarray, K: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Random flip and jitter of one triplet.

    images: (F, H, W, 3) float32 RGB in [0, 1]; K: (3, 3) pixels.
    Returns (images for the losses (flipped only), images for the networks (flipped and
    jittered), K of the flipped images, whether they were flipped). The draws come from `rng`
    in a fixed order, so a sample's augmentation depends only on its generator's seed.
    """
    flip = rng.random() < cfg.flip_prob
    jitter = rng.random() < cfg.jitter_prob
    factors = (rng.uniform(1 - cfg.brightness, 1 + cfg.brightness),
               rng.uniform(1 - cfg.contrast, 1 + cfg.contrast),
               rng.uniform(1 - cfg.saturation, 1 + cfg.saturation),
               rng.uniform(-cfg.hue, cfg.hue))
    if flip:
        images = np.ascontiguousarray(images[:, :, ::-1])
        K = flip_intrinsics(K, images.shape[2])
    network = colour_jitter(images, *factors).astype(np.float32) if jitter else images
    return images, network, K, flip
