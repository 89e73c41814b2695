"""Forward flow on the first frame's grid (Middlebury / Sintel .flo) -> our flow convention.

Given F on frame 1's grid (the point at p in frame 1 is at p + F(p) in frame 2), our flow on
frame 2's grid is f(q) = q - p for the p with p + F(p) = q (docs/conventions.md). Steps:

1. Splat: every pixel p with a finite F(p) lands at q = p + F(p) and becomes a candidate for
   the (up to) four pixel centres around q.
2. Refine: for each candidate, solve p + F(p) = q exactly by the fixed-point iteration
   p <- q - F(p), F interpolated bilinearly (float64), starting at the candidate. It converges
   where F changes by less than one pixel per pixel. A candidate is dropped when its iteration
   does not meet q to within `tolerance` px, wanders more than 1.5 px from where it started,
   touches an unknown flow value, or lands between pixels whose flows differ by more than
   `max_spread` px (a motion boundary: bilinear F would mix two surfaces there).
3. Occlusion rule: several points of frame 1 can land on one pixel of frame 2, and which is in
   front is unknown without depth, so the one with the LARGEST flow magnitude wins (under
   camera translation nearer points move more). If a larger flow than the winner's (by more
   than `max_spread`) landed within a pixel but did not resolve (a thin foreground object),
   the pixel is NaN rather than given the background's flow.
4. Pixels of frame 2 that no point reaches (disocclusions, points from outside the view) are
   NaN.

The result is exact up to the bilinear interpolation of F between pixel centres: on a smooth
flow field the error is well below 0.01 px (test/test_flo.py: median < 0.001 px on a synthetic
pair against the world's exact flow).
"""

from __future__ import annotations

import numpy as np

ITERATIONS = 20
MAX_DRIFT = 1.5  # pixels between the refined source point and the splat candidate


def _candidates(forward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Splat: (target flat index, source flat index) for the four pixels around each landing."""
    height, width = forward.shape[:2]
    ys, xs = np.nonzero(np.isfinite(forward).all(axis=2))
    qx = xs + forward[ys, xs, 0].astype(np.float64)
    qy = ys + forward[ys, xs, 1].astype(np.float64)
    targets, sources = [], []
    for dx in (0, 1):
        for dy in (0, 1):
            tx, ty = np.floor(qx).astype(np.int64) + dx, np.floor(qy).astype(np.int64) + dy
            inside = (tx >= 0) & (tx < width) & (ty >= 0) & (ty < height)
            targets.append((ty * width + tx)[inside])
            sources.append((ys * width + xs)[inside])
    return np.concatenate(targets), np.concatenate(sources)


def forward_to_ours(forward: np.ndarray, tolerance: float = 1e-3, max_spread: float = 1.0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Convert forward flow (H, W, 2) on frame 1's grid (NaN = unknown) to our convention.

    Returns (flow, valid): flow (H, W, 2) float32 pixels on frame 2's grid, the point at q now
    was at q - flow in frame 1, NaN where undefined (see the module docstring); valid = finite.
    Both frames must have the same size.
    """
    forward = np.asarray(forward, dtype=np.float32)
    if forward.ndim != 3 or forward.shape[2] != 2:
        raise ValueError(f'forward flow must be (H, W, 2), got {forward.shape}')
    height, width = forward.shape[:2]
    flow = np.full((height, width, 2), np.nan, np.float32)
    target, source = _candidates(forward)
    qy, qx = (a.astype(np.float64) for a in np.divmod(target, width))
    sy, sx = np.divmod(source, width)
    px, py = qx - forward[sy, sx, 0], qy - forward[sy, sx, 1]
    for _ in range(ITERATIONS):
        fx, fy, _ = _bilinear(forward, px, py)
        px, py = qx - fx, qy - fy
    fx, fy, spread = _bilinear(forward, px, py)
    with np.errstate(invalid='ignore'):
        good = ((np.hypot(px + fx - qx, py + fy - qy) <= tolerance)
                & (np.hypot(px - sx, py - sy) <= MAX_DRIFT) & (spread <= max_spread))
    # The largest flow landing near each target, resolved or not (thin or unresolved fronts).
    reach = np.zeros(height * width)
    np.maximum.at(reach, target, np.hypot(*forward[sy, sx].T.astype(np.float64)))
    target, u, v = target[good], (qx - px)[good], (qy - py)[good]
    # Occlusion rule: per target, the largest flow magnitude wins (first after sorting).
    magnitude = np.hypot(u, v)
    order = np.lexsort((-magnitude, target))
    target, u, v, magnitude = target[order], u[order], v[order], magnitude[order]
    first = np.ones(len(target), bool)
    first[1:] = target[1:] != target[:-1]
    first &= magnitude + max_spread >= reach[target]
    flow.reshape(-1, 2)[target[first]] = np.stack([u[first], v[first]], axis=1)
    return flow, np.isfinite(flow).all(axis=2)


def _bilinear(field: np.ndarray, x: np.ndarray, y: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """field (H, W, 2) sampled bilinearly at float pixel positions -> (u, v, spread), float64
    (cv2.remap would round positions to 1/32 px). NaN outside the image or where a neighbour
    with weight > 0 is NaN. spread: the largest difference, in u or v, between the neighbours
    with weight > 0 (large across a motion boundary)."""
    height, width = field.shape[:2]
    inside = (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)  # False for NaN
    xs, ys = np.where(inside, x, 0.0), np.where(inside, y, 0.0)
    x0 = np.clip(np.floor(xs).astype(np.int64), 0, max(width - 2, 0))
    y0 = np.clip(np.floor(ys).astype(np.int64), 0, max(height - 2, 0))
    ax, ay = xs - x0, ys - y0
    total = np.zeros((len(xs), 2))
    low = np.full((len(xs), 2), np.inf)
    high = np.full((len(xs), 2), -np.inf)
    for dx, wx in ((0, 1.0 - ax), (1, ax)):
        for dy, wy in ((0, 1.0 - ay), (1, ay)):
            weight = (wx * wy)[:, None]
            value = field[np.minimum(y0 + dy, height - 1), np.minimum(x0 + dx, width - 1)]
            used = weight > 0
            total += np.where(used, value * weight, 0.0)
            low = np.where(used, np.minimum(low, value), low)
            high = np.where(used, np.maximum(high, value), high)
    total[~inside] = np.nan
    return total[:, 0], total[:, 1], (high - low).max(axis=1)
