#!/usr/bin/env python3
"""How much online adaptation forgets, without waiting for the node's duty cycle.

The node's adaptation engine (`OnlineAdapter`, the node's default settings unless told
otherwise) watches KITTI odometry 00 frames 0-199 in a loop through a torch `Estimator`, and
takes one step every `--every` processed frames (the node at 10 Hz and a 0.25 budget takes
about one per 60) until `--steps`; then the weights it would run (the last accepted ones) are
written to `--out`. Score them on every set with the scorecard:

    python training/tools/online_forgetting.py --replay 0.25 --out /tmp/r25.safetensors
    rmdepth-eval scorecard --weights /tmp/r25.safetensors --out /tmp/sc_r25 \
        --motion-source network

The motion network is frozen in adaptation, so only depth (and the flow built on it) can move.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
import time

DATA = Path(__file__).resolve().parents[3] / 'shared' / 'data' / 'kitti_odometry_00'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='weights file to write')
    parser.add_argument('--replay', type=float, default=None,
                        help='synthetic share of each batch (default: the node default)')
    parser.add_argument('--lr', type=float, default=None, help='default: the node default')
    parser.add_argument('--anchor', type=float, default=None,
                        help='pull towards the starting weights per step (default: the node '
                        'default)')
    parser.add_argument('--pseudo-depth', type=float, default=None,
                        help="weight of the loss on the estimator's fused depth (default: the "
                        'node default; 0 runs the network outputs only, without the geometry)')
    parser.add_argument('--steps', type=int, default=100)
    parser.add_argument('--every', type=int, default=20, help='frames per step')
    parser.add_argument('--data', default=str(DATA), help='KITTI odometry 00 folder')
    args = parser.parse_args()

    from rmdepth_training.adapt_online import OnlineAdapter, OnlineSettings

    from rmdepth_ros.inference import Estimator
    from rmdepth_ros.open_sequence import open_sequence

    settings = OnlineSettings()
    for name in ('replay', 'lr', 'anchor', 'pseudo_depth'):  # the node default unless given
        if getattr(args, name) is not None:
            setattr(settings, name, getattr(args, name))
    if settings.pseudo_depth > 0:  # as the node: hybrid motion, fused depth (the labels)
        estimator = Estimator(None, device='cpu', backend='torch')
    else:  # the network's outputs: what adaptation changes (the geometry would only cost time)
        estimator = Estimator(None, device='cpu', backend='torch', motion_source='network',
                              depth_source='network')
    engine = OnlineAdapter(estimator.model, settings, 'cpu',
                           lambda line: print(line, file=sys.stderr))
    estimator.observer = engine.observe
    sequence = open_sequence(args.data)
    frames = [sequence[i] for i in range(200)]
    began, seen, loop = time.perf_counter(), 0, 0
    while engine.stats['steps'] < args.steps:
        estimator.reset('loop')
        for i, frame in enumerate(frames):
            estimator.process(frame.image, frame.intrinsics, 1000.0 + 30.0 * loop + 0.1 * i)
            seen += 1
            if seen % args.every == 0 and engine.stats['steps'] < args.steps:
                batch = engine._batch()
                if batch is not None:
                    engine.step(batch)
        loop += 1
        print(f'loop {loop}: {time.perf_counter() - began:.0f} s, steps '
              f"{engine.stats['steps']}, swaps {engine.stats['swaps']}, reverts "
              f"{engine.stats['reverts']}", file=sys.stderr, flush=True)
    model_id = engine.save(args.out, estimator.metadata)
    print(f'{args.out}: model {model_id}, {engine.stats}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
