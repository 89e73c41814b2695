#!/usr/bin/env python3
"""Data-loading benchmark: training samples per second from pre-rendered shards vs rendering.

One process, one thread, no DataLoader: times `TrainStream[n]` (triplet, truth, resize,
augmentation, tensors; what one loader worker does per sample) for N samples drawn (a) from
a shard (`rmdepth_training.shards`) and (b) by rendering the synthetic world live, in each
look. A machine with C free cores loads about C times the per-process rate. Writes the shard
to a temporary folder unless --shard names one. Prints a table, or one JSON line with --json.

    python bench/bench_shards.py [--samples 40] [--sequences 4] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time

from rmdepth_training.config import AugmentConfig, DataConfig
from rmdepth_training.datasets import TrainStream, build_source
from rmdepth_training.shards import SHARD_SEED_OFFSET, write_shard


def rate(data: DataConfig, samples: int) -> float:
    """Samples per second of process CPU time through TrainStream."""
    stream = TrainStream(build_source(data), data, AugmentConfig(), seed=0)
    stream[0]  # warm-up: imports, texture library, shard pages
    start = time.process_time()
    for n in range(1, samples + 1):
        stream[n]
    return samples / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--samples', type=int, default=40)
    parser.add_argument('--sequences', type=int, default=4, help='sequences in the shard')
    parser.add_argument('--width', type=int, default=192)
    parser.add_argument('--height', type=int, default=64)
    parser.add_argument('--look', default='photo', help='look of the shard')
    parser.add_argument('--shard', help='use this shard instead of writing one')
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args()
    import torch
    torch.set_num_threads(1)
    import cv2
    cv2.setNumThreads(1)
    base = DataConfig(kind='synthetic', width=args.width, height=args.height, synth_frames=20,
                      frame_step_max=3, synth_motion='diverse', static_prob=0.05,
                      reverse_prob=0.1, synth_look=args.look)
    result = {'benchmark': 'data_loading', 'size': f'{args.width}x{args.height}',
              'samples': args.samples, 'samples_per_s': {}}
    with tempfile.TemporaryDirectory() as tmp:
        shard = args.shard or os.path.join(tmp, 'shard.npz')
        if not args.shard:
            result['shard'] = write_shard(shard, base, args.sequences, SHARD_SEED_OFFSET)
        from_shard = dataclasses.replace(base, shards=(shard,), shard_fraction=1.0)
        result['samples_per_s']['shard'] = round(rate(from_shard, args.samples), 1)
    for look in ('classic', 'photo'):
        live = dataclasses.replace(base, synth_look=look)
        count = max(args.samples // 4, 4)
        result['samples_per_s'][f'live {look}'] = round(rate(live, count), 2)
    if args.json:
        print(json.dumps(result))
        return
    if 'shard' in result:
        print(f"shard: {result['shard']}")
    print(f"samples/s of one process at {result['size']}:")
    for name, value in result['samples_per_s'].items():
        print(f'  {name:14} {value:8.1f}')


if __name__ == '__main__':
    main()
