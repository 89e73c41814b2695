"""Triplets streamed from the synthetic street world, with its exact ground truth.

Beyond the plain (t - k, t, t + k) triplet of a fresh sequence, data options make the camera
motion harder to guess without looking (issue: "motion that must look"): the step k drawn per
sample (speed changes), the triplet played backwards (reversing), the earlier source replaced by
the target itself (a standing camera), and the world's own 'diverse' camera-motion styles.
"""

from __future__ import annotations

from collections.abc import Callable
import warnings

import numpy as np

from rmdepth_ros.datasets.sequence import Frame
from rmdepth_training.config import DataConfig
from rmdepth_training.triplets import (
    TRAIN_SEED_OFFSET,
    Triplet,
    TripletSample,
    TripletSource,
    no_truth,
)

MAX_TRUTH_DEPTH = 80.0  # metres; farther (and sky) pixels carry no depth supervision


class SyntheticTriplets(TripletSource):
    """Endless stream: every sample is a triplet of a freshly generated synthetic sequence.

    The sequence seed comes from the sample's random stream and is at least TRAIN_SEED_OFFSET;
    the target frame is drawn uniformly from the frames that have both neighbours.
    """

    def __init__(self, cfg: DataConfig) -> None:
        self.cfg = cfg
        self.description = (f'synthetic street world, streamed ({cfg.width}x{cfg.height}, '
                            f'{cfg.synth_frames}-frame sequences, seeds >= {TRAIN_SEED_OFFSET}, '
                            f'camera motion {cfg.synth_motion!r}, look {cfg.synth_look!r})')

    def triplet(self, item: int, rng: np.random.Generator) -> Triplet:
        sample = self.sample(item, rng)
        return sample.images, sample.K

    def sample(self, item: int, rng: np.random.Generator) -> TripletSample:
        from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

        cfg = self.cfg
        seed = TRAIN_SEED_OFFSET + int(rng.integers(0, 2 ** 62 - TRAIN_SEED_OFFSET))
        extra = {} if cfg.synth_motion == 'drive' else {'motion': cfg.synth_motion}
        if cfg.synth_look != 'classic':
            extra['look'] = cfg.synth_look
        step = draw_step(cfg, rng)
        sequence = SyntheticSequence(SynthConfig(width=cfg.width, height=cfg.height,
                                                 frames=cfg.synth_frames, seed=seed, **extra))
        with warnings.catch_warnings():
            # The renderer's texture maths meets NaN on sky rays; those pixels are overwritten.
            warnings.simplefilter('ignore', RuntimeWarning)
            return pick_triplet(sequence.__getitem__, cfg.synth_frames, step, cfg, rng)


def draw_step(cfg: DataConfig, rng: np.random.Generator) -> int:
    """The frame step of one sample: cfg.frame_step, or drawn up to cfg.frame_step_max."""
    if cfg.frame_step_max > cfg.frame_step:
        return int(rng.integers(cfg.frame_step, cfg.frame_step_max + 1))
    return cfg.frame_step


def pick_triplet(frame: Callable[[int], Frame], count: int, step: int, cfg: DataConfig,
                 rng: np.random.Generator) -> TripletSample:
    """A triplet with truth from a sequence of `count` frames (`frame(i)` gives frame i): the
    centre drawn uniformly, played backwards with cfg.reverse_prob, the earlier source replaced
    by the target with cfg.static_prob."""
    centre = int(rng.integers(step, count - step))
    reverse = cfg.reverse_prob > 0 and rng.random() < cfg.reverse_prob
    static = cfg.static_prob > 0 and rng.random() < cfg.static_prob
    frames = [frame(centre + d) for d in (-step, 0, step)]
    if reverse:
        frames = frames[::-1]
    if static:
        frames[0] = frames[1]
    truth = synthetic_truth(frames, natural=(step == 1 and not reverse), static=static)
    return TripletSample([f.image for f in frames], frames[1].intrinsics, truth)

def synthetic_truth(frames: list[Frame], natural: bool, static: bool) -> dict[str, np.ndarray]:
    """Truth of a synthetic triplet (triplets.py docstring) at the frames' own size.

    natural: frames[0] is the frame just before frames[1], so the target's ground-truth flow
    and object motion (defined from its previous frame) apply to source 0. static: frames[0] is
    frames[1] itself (zero flow and object motion everywhere).
    """
    target = frames[1]
    height, width = target.image.shape[:2]
    truth = no_truth(height, width)
    truth['gt_valid'] = np.ones((), np.float32)
    depth = target.depth
    ok = np.isfinite(depth) & (depth > 0) & (depth < MAX_TRUTH_DEPTH)
    truth['gt_depth'][0] = np.where(ok, depth, 0.0)
    sources = [frames[0], frames[2]]
    truth['gt_T'] = np.stack([np.linalg.inv(s.pose) @ target.pose for s in sources]
                             ).astype(np.float32)
    if static:
        truth['gt_flow_valid'][:] = 1.0
    elif natural and target.flow is not None and target.object_motion is not None:
        valid = target.flow_valid & np.isfinite(target.flow).all(-1) \
            & np.isfinite(target.object_motion).all(-1)
        truth['gt_flow'] = np.where(valid[None], np.nan_to_num(target.flow).transpose(2, 0, 1),
                                    0.0).astype(np.float32)
        truth['gt_object'] = np.where(valid[None], np.nan_to_num(
            target.object_motion).transpose(2, 0, 1), 0.0).astype(np.float32)
        truth['gt_flow_valid'][0] = valid
    return truth
