"""Camera effects of the synthetic world's 'photo' look: linear radiance to an 8-bit image.

Per sequence (`CameraLook.random`): exposure, white balance, vignetting, lens blur, colour or
grayscale sensor (KITTI's odometry frames are grayscale), sensor noise level and JPEG quality.
Per frame only the noise and the compression artefacts change, so brightness stays constant
along a sequence as the photometric losses assume. None of it moves a pixel: the geometry and
every ground-truth array are untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

GAMMA = 1.0 / 2.2


@dataclass(frozen=True)
class CameraLook:
    """exposure: radiance multiplier; white: (3,) per-channel gains; vignette: relative light
    loss at the image corners; blur: extra Gaussian sigma, pixels (beside the config's
    blur_sigma); gray: single-channel sensor (the image repeats its luminance); noise: std of
    the sensor noise at full scale (shot-noise-like, grows with the square root of the
    signal) plus a floor of a third of it; jpeg: JPEG quality, 0 = no compression."""

    exposure: float
    white: tuple[float, float, float]
    vignette: float
    blur: float
    gray: bool
    noise: float
    jpeg: int

    @staticmethod
    def random(rng: np.random.Generator) -> CameraLook:
        white = tuple(float(g) for g in rng.uniform(0.9, 1.1, 3))
        return CameraLook(exposure=float(np.exp(rng.uniform(-0.45, 0.45))), white=white,
                          vignette=float(rng.uniform(0.0, 0.45)),
                          blur=float(rng.uniform(0.0, 0.5)), gray=bool(rng.random() < 0.5),
                          noise=float(rng.uniform(0.0, 0.03)),
                          jpeg=int(rng.integers(35, 96)) if rng.random() < 0.6 else 0)

    def develop(self, radiance: np.ndarray, blur_sigma: float,
                rng: np.random.Generator) -> np.ndarray:
        """(H, W, 3) uint8 RGB from (H, W, 3) float32 linear radiance; `rng` draws this
        frame's noise."""
        h, w = radiance.shape[:2]
        gain = np.asarray(self.white, np.float32) * np.float32(self.exposure)
        image = radiance * gain
        if self.vignette > 0:
            y = (np.arange(h, dtype=np.float32) - (h - 1) / 2) / np.float32(h / 2)
            x = (np.arange(w, dtype=np.float32) - (w - 1) / 2) / np.float32(w / 2)
            r2 = (x[None, :] ** 2 * np.float32(0.75) + y[:, None] ** 2 * np.float32(0.25))
            image *= (np.float32(1.0) - np.float32(self.vignette) * r2)[..., None]
        if self.gray:
            luma = image @ np.array([0.2126, 0.7152, 0.0722], np.float32)
            image = np.repeat(luma[..., None], 3, axis=2)
        sigma = blur_sigma + self.blur
        if sigma > 0:
            image = cv2.GaussianBlur(image, (0, 0), sigma)
        np.clip(image, 0.0, 1.0, out=image)
        image = np.power(image, np.float32(GAMMA))
        if self.noise > 0:
            shape = (h, w, 1) if self.gray else (h, w, 3)
            std = np.float32(self.noise) * (np.sqrt(image[..., :shape[2]])
                                            + np.float32(1.0 / 3.0))
            image += std * rng.standard_normal(shape, dtype=np.float32)
        out = np.clip(image * np.float32(255.0) + np.float32(0.5), 0, 255).astype(np.uint8)
        if self.jpeg:
            ok, data = cv2.imencode('.jpg', out, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg])
            if ok:
                out = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
                if out.ndim == 2:
                    out = np.repeat(out[..., None], 3, axis=2)
        return out
