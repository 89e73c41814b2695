"""Pre-rendered shards of the synthetic world, for data loading that keeps up with a GPU.

Rendering a triplet costs tens of milliseconds of CPU (the numpy world), so 14 loader workers
capped an H200 at about 200 samples/s. A shard holds whole rendered sequences at the
network size (every frame with its image, depth, flow, validity, object motion and pose), so
that any triplet of any step can be cut from it again (`synthetic_triplets.pick_triplet`) for
the cost of a copy: one 20-frame sequence gives 18 centres x 3 steps x reversed / standing
variants, then the usual flips and colour jitter. Depth, flow and object motion are stored as
float16 (depth to 0.05 % relative, flow to 0.03 px at 60 px), images as uint8; the file is a
compressed .npz. `ShardTriplets` serves them; `data.shards` / `data.shard_fraction` mix them
with live rendering (`datasets.build_source`).

    python -m rmdepth_training.shards OUT.npz --config training/configs/gpu_shards.yaml \
        --sequences 40 [--first-seed N] [--max-seconds S] [--raw] [data.key=value ...]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from rmdepth_ros.datasets.sequence import Frame
from rmdepth_training.config import DataConfig
from rmdepth_training.synthetic_triplets import draw_step, pick_triplet
from rmdepth_training.triplets import TRAIN_SEED_OFFSET, TripletSample, TripletSource

FIELDS = ('images', 'depth', 'flow', 'flow_valid', 'object_motion', 'pose', 'K')
SHARD_SEED_OFFSET = TRAIN_SEED_OFFSET + 2 ** 40  # apart from the streamed training seeds


def render_sequences(cfg: DataConfig, count: int, first_seed: int,
                     max_seconds: float = 0.0) -> dict[str, np.ndarray]:
    """`count` synthetic sequences of cfg (size, frames, motion, look) as stacked arrays;
    with max_seconds > 0, fewer when that much time has passed (at least one)."""
    from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

    if first_seed < TRAIN_SEED_OFFSET:
        raise ValueError('shard seeds must not be held-out seeds (< TRAIN_SEED_OFFSET)')
    extra = {} if cfg.synth_motion == 'drive' else {'motion': cfg.synth_motion}
    rows: dict[str, list[np.ndarray]] = {name: [] for name in FIELDS}
    h, w = cfg.height, cfg.width
    start = time.perf_counter()
    for seed in range(first_seed, first_seed + count):
        if max_seconds > 0 and rows['K'] and time.perf_counter() - start > max_seconds:
            break
        config = SynthConfig(width=w, height=h, frames=cfg.synth_frames, seed=seed,
                             look=cfg.synth_look, **extra)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)
            frames = list(SyntheticSequence(config))
        flow0 = np.full((h, w, 2), np.nan, np.float32)  # frame 0 has no previous frame
        rows['images'].append(np.stack([f.image for f in frames]))
        with np.errstate(over='ignore'):  # far ground beyond float16's range becomes +inf
            rows['depth'].append(np.stack([f.depth for f in frames]).astype(np.float16))
        rows['flow'].append(np.stack([flow0 if f.flow is None else f.flow for f in frames])
                            .astype(np.float16))
        rows['flow_valid'].append(np.stack([np.zeros((h, w), bool) if f.flow_valid is None
                                            else f.flow_valid for f in frames]))
        rows['object_motion'].append(np.stack([np.zeros((h, w, 3)) if f.object_motion is None
                                               else f.object_motion for f in frames])
                                     .astype(np.float16))
        rows['pose'].append(np.stack([f.pose for f in frames]))
        rows['K'].append(frames[0].intrinsics)
    return {name: np.stack(value) for name, value in rows.items()}


def write_shard(path: str, cfg: DataConfig, count: int, first_seed: int,
                max_seconds: float = 0.0, compress: bool = True) -> dict[str, float]:
    """Render `count` sequences (or as many as fit in max_seconds, see `render_sequences`)
    into the shard `path`, compressed unless told not to (a shard rendered where it is used
    need not be); returns its size and timings."""
    start = time.perf_counter()
    arrays = render_sequences(cfg, count, first_seed, max_seconds)
    rendered = time.perf_counter() - start
    count = len(arrays['K'])
    meta = np.array([cfg.width, cfg.height, cfg.synth_frames, first_seed], np.int64)
    with open(path, 'wb') as f:
        (np.savez_compressed if compress else np.savez)(
            f, meta=meta, look=np.array(cfg.synth_look), motion=np.array(cfg.synth_motion),
            **arrays)
        size = f.tell()
    frames = count * cfg.synth_frames
    return {'sequences': count, 'frames': frames, 'bytes': size,
            'bytes_per_frame': round(size / frames), 'render_s': round(rendered, 2),
            'render_s_per_frame': round(rendered / frames, 4)}


class ShardTriplets(TripletSource):
    """Triplets cut from shards: a sequence drawn uniformly, then the step, centre, reversal
    and standing camera drawn as for live rendering (`pick_triplet`). Endless like a stream;
    `length` is the number of stored frames (MixedTriplets draws an item below it)."""

    def __init__(self, paths: tuple[str, ...] | list[str], cfg: DataConfig) -> None:
        self.cfg = cfg
        parts = []
        for path in paths:
            with np.load(path) as data:
                width, height, frames, _ = (int(v) for v in data['meta'])
                if (width, height, frames) != (cfg.width, cfg.height, cfg.synth_frames):
                    raise ValueError(f'{path}: shard of {width}x{height}, {frames}-frame '
                                     f'sequences; the config asks for {cfg.width}x'
                                     f'{cfg.height}, {cfg.synth_frames} frames')
                parts.append({name: data[name] for name in FIELDS})
        if not parts:
            raise ValueError('no shard files given')
        self.arrays = {name: np.concatenate([p[name] for p in parts]) for name in FIELDS}
        self.sequences = len(self.arrays['K'])
        self.length = self.sequences * cfg.synth_frames
        self.description = (f'{self.sequences} pre-rendered sequences from '
                            f'{len(parts)} shard(s)')

    def frame(self, sequence: int, index: int) -> Frame:
        a = self.arrays
        first = index == 0
        return Frame(image=a['images'][sequence, index], intrinsics=a['K'][sequence],
                     timestamp=index / 10.0, depth=a['depth'][sequence, index].astype(np.float32),
                     pose=a['pose'][sequence, index], index=index,
                     flow=None if first else a['flow'][sequence, index].astype(np.float32),
                     flow_valid=None if first else a['flow_valid'][sequence, index],
                     object_motion=None if first else
                     a['object_motion'][sequence, index].astype(np.float32))

    def triplet(self, item: int, rng: np.random.Generator):
        sample = self.sample(item, rng)
        return sample.images, sample.K

    def sample(self, item: int, rng: np.random.Generator) -> TripletSample:
        sequence = int(rng.integers(self.sequences))
        step = draw_step(self.cfg, rng)
        return pick_triplet(lambda i: self.frame(sequence, i), self.cfg.synth_frames, step,
                            self.cfg, rng)


def main() -> None:
    parser = argparse.ArgumentParser(description='render synthetic sequences into a shard')
    parser.add_argument('out', help='shard file (.npz)')
    parser.add_argument('--config', required=True, help='training config (its data section)')
    parser.add_argument('--sequences', type=int, default=8)
    parser.add_argument('--first-seed', type=int, default=SHARD_SEED_OFFSET)
    parser.add_argument('--max-seconds', type=float, default=0.0,
                        help='stop rendering after this long (0 = render every sequence)')
    parser.add_argument('--raw', action='store_true', help='write without compression')
    parser.add_argument('overrides', nargs='*', metavar='data.key=value')
    args = parser.parse_args()
    from rmdepth_training.config import build_config

    # The shards being written are not read here: drop the config's own shard mixing.
    cfg = build_config(args.config, [*args.overrides, 'data.shard_fraction=0']).data
    print(write_shard(args.out, cfg, args.sequences, args.first_seed, args.max_seconds,
                      not args.raw), flush=True)


if __name__ == '__main__':
    main()
