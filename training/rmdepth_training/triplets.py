"""What a training sample is before batching: three frames, their intrinsics, optional truth.

Sources of triplets (`datasets.py`, `synthetic_triplets.py`) return a `TripletSample`; ground
truth exists only for the synthetic world and feeds the supervised warm start
(`supervised.py`). Shapes of `truth` at the network size (H, W), sources S = 2 in frame order:
'gt_depth' (1, H, W) metres, 0 = none; 'gt_T' (S, 4, 4) T_s_t; 'gt_flow' (2, H, W) pixels of
the earlier source (docs/conventions.md); 'gt_flow_valid' (1, H, W); 'gt_object' (3, H, W)
metres, current camera frame; 'gt_valid' () 1.0. All float32. Real video with pseudo-labels
(`pseudo_labels.py`) carries 'pl_depth' and 'pl_weight' (1, H, W) instead, every 'gt_*' zero;
every other sample carries them as zeros.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Synthetic seeds below this are never used for training (held out for validation/evaluation).
TRAIN_SEED_OFFSET = 1_000_000

Triplet = tuple[list[np.ndarray], np.ndarray]  # (3 images uint8 (H, W, 3) or (H, W), K (3, 3))


@dataclass
class TripletSample:
    """images: 3 uint8 frames (t - k, t, t + k) (or another order, see the source); K (3, 3)
    of the images; truth: the dict of the module docstring, or None (real video)."""

    images: list[np.ndarray]
    K: np.ndarray
    truth: dict[str, np.ndarray] | None = None


class TripletSource:
    """A collection of triplets. `length` is None for an endless stream."""

    length: int | None = None
    crop_bottom: float = 0.0
    description: str = ''

    def triplet(self, item: int, rng: np.random.Generator) -> Triplet:
        """The frames (t - k, t, t + k) of item `item` (or, for streams, of sample `item`)."""
        raise NotImplementedError

    def sample(self, item: int, rng: np.random.Generator) -> TripletSample:
        """`triplet` with its ground truth; sources without truth keep this default."""
        images, K = self.triplet(item, rng)
        return TripletSample(images, K)


def no_truth(height: int, width: int, sources: int = 2) -> dict[str, np.ndarray]:
    """All-zero truth ('gt_valid' 0): what real samples carry so that batches collate."""
    return {'gt_valid': np.zeros((), np.float32),
            'gt_depth': np.zeros((1, height, width), np.float32),
            'gt_T': np.tile(np.eye(4, dtype=np.float32), (sources, 1, 1)),
            'gt_flow': np.zeros((2, height, width), np.float32),
            'gt_flow_valid': np.zeros((1, height, width), np.float32),
            'gt_object': np.zeros((3, height, width), np.float32),
            'pl_depth': np.zeros((1, height, width), np.float32),
            'pl_weight': np.zeros((1, height, width), np.float32)}


def flip_truth(truth: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Truth of the horizontally mirrored images (x -> W - 1 - x, optical x axis negated).

    Motions are conjugated by diag(-1, 1, 1); flow u and object-motion x change sign.
    """
    mirror = np.diag([-1.0, 1.0, 1.0, 1.0]).astype(np.float32)
    out = {k: np.ascontiguousarray(v[..., ::-1]) if v.ndim == 3 else v
           for k, v in truth.items() if k != 'gt_T'}
    out['gt_T'] = (mirror @ truth['gt_T'] @ mirror).astype(np.float32)
    out['gt_flow'][0] *= -1.0
    out['gt_object'][0] *= -1.0
    return out
