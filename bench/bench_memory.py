#!/usr/bin/env python3
"""Memory over a long run: resident memory while the Estimator processes N frames (10 000).

Prints RSS at checkpoints and the growth after warm-up; --json prints one JSON line.
Default: small input (160x48), default architecture; --tiny uses the test architecture.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile

import numpy as np
import torch

from rmdepth_ros.inference import Estimator
from rmdepth_ros.model.config import TINY, RMDepthConfig
from rmdepth_ros.model.rmdepth import RMDepth
from rmdepth_ros.model.weights import save_weights


def rss_mib() -> float:
    with open('/proc/self/statm') as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=10_000)
    parser.add_argument('--size', default='160x48', help='network input WxH')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--tiny', action='store_true',
                        help='the TINY test architecture (same code paths, much faster)')
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split('x'))
    torch.manual_seed(0)
    config = TINY if args.tiny else RMDepthConfig()
    with tempfile.TemporaryDirectory() as tmp:
        save_weights(f'{tmp}/w.safetensors', RMDepth(config), config, (width, height))
        est = Estimator(f'{tmp}/w.safetensors', device=args.device)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (height * 2, width * 2, 3), dtype=np.uint8) for _ in range(3)]
    k = np.array([[0.58 * width * 2, 0, width - 0.5], [0, 1.92 * height * 2, height - 0.5],
                  [0, 0, 1]])
    checkpoints = {}
    warmup = min(200, args.frames // 10)
    for i in range(args.frames):
        # Every 1000 frames a time gap forces a reset, so the reset path is exercised too.
        stamp = 0.1 * i + (5.0 * (i // 1000))
        est.process(images[i % 3], k, stamp)
        if i + 1 == warmup or (i + 1) % 1000 == 0 or i + 1 == args.frames:
            checkpoints[i + 1] = round(rss_mib(), 1)
            if not args.json:
                print(f'frame {i + 1:>6}: RSS {checkpoints[i + 1]:8.1f} MiB', flush=True)
    growth = checkpoints[args.frames] - checkpoints[warmup]
    result = {'frames': args.frames, 'size': args.size, 'rss_mib': checkpoints,
              'growth_after_warmup_mib': round(growth, 1)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f'growth after warm-up ({warmup} frames): {growth:.1f} MiB')
    return 0


if __name__ == '__main__':
    sys.exit(main())
