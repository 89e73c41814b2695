"""Moving-object mask baselines: nothing moves; and how much a mask marks as moving."""

from __future__ import annotations

import numpy as np


def all_static(shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool, all False: no pixel is moving."""
    return np.zeros(shape[:2], bool)


def moving_fraction(mask: np.ndarray) -> float:
    """Fraction of the pixels of an (H, W) mask marked moving (on a scene where nothing moves,
    this is the false-positive rate)."""
    mask = np.asarray(mask, bool)
    return float(mask.mean()) if mask.size else 0.0
