#!/usr/bin/env python3
"""Inference benchmark: parameters, GMACs, frames per second and peak memory.

Prints a table, or with --json one JSON line. Uses randomly initialised default-architecture
weights unless --weights is given (speed does not depend on the weight values).

    python bench/bench_inference.py                    # CPU, fp32
    python bench/bench_inference.py --device cuda --precision fp16

The paper's figure to compare with: 40 FPS at 640x192 on a GTX 1080 (depth network).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from rmdepth_ros.inference import Estimator
from rmdepth_ros.model.config import RMDepthConfig
from rmdepth_ros.model.rmdepth import RMDepth
from rmdepth_ros.model.weights import save_weights


def depth_gmacs(model: RMDepth, width: int, height: int) -> float:
    """Multiply-accumulates of one depth-network forward pass, in G (FLOPs / 2)."""
    image = torch.rand(1, 3, height, width)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model.depth_net(image)
    return counter.get_total_flops() / 2e9


def motion_gmacs(model: RMDepth, width: int, height: int) -> float:
    image = torch.rand(1, 3, height, width)
    depth = torch.full((1, 1, height, width), 10.0)
    k = torch.tensor([[[0.58 * width, 0, width / 2], [0, 1.92 * height, height / 2], [0, 0, 1]]])
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model.motion_net(image, image, depth, k)
    return counter.get_total_flops() / 2e9


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_depth_only(est: Estimator, frames: int, warmup: int) -> float:
    """Frames per second of the bare depth network on a (1, 3, H, W) tensor."""
    width, height = est.input_size
    image = torch.rand(1, 3, height, width, device=est.device)
    with torch.inference_mode(), est._autocast():
        for _ in range(warmup):
            est.model.depth_net(image)
        _sync(est.device)
        start = time.perf_counter()
        for _ in range(frames):
            est.model.depth_net(image)
        _sync(est.device)
    return frames / (time.perf_counter() - start)


def time_pipeline(est: Estimator, frames: int, warmup: int) -> tuple[float, dict[str, float]]:
    """Frames per second of Estimator.process (depth + motion + flow + mask) on numpy frames."""
    width, height = est.input_size
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(4)]
    k = np.array([[0.58 * width, 0, width / 2 - 0.5], [0, 1.92 * height, height / 2 - 0.5],
                  [0, 0, 1]])
    stamp = 0.0
    for i in range(warmup):
        stamp += 0.1
        est.process(images[i % 4], k, stamp)
    _sync(est.device)
    totals: dict[str, float] = {}
    start = time.perf_counter()
    for i in range(frames):
        stamp += 0.1
        out = est.process(images[i % 4], k, stamp)
        for key, value in out.timings.items():
            totals[key] = totals.get(key, 0.0) + value
    _sync(est.device)
    fps = frames / (time.perf_counter() - start)
    return fps, {key: value / frames for key, value in totals.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--precision', default='fp32', choices=['fp32', 'fp16', 'bf16'])
    parser.add_argument('--weights', default=None, help='weights file (default: random init)')
    parser.add_argument('--frames', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--json', action='store_true', help='print one JSON line')
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    config = RMDepthConfig()
    model = RMDepth(config).eval()
    result: dict[str, object] = {
        'depth_params': model.num_parameters('depth'),
        'motion_params': model.num_parameters('motion'),
        'depth_gmacs_640x192': round(depth_gmacs(model, 640, 192), 2),
        'depth_gmacs_1024x320': round(depth_gmacs(model, 1024, 320), 2),
        'motion_gmacs_640x192': round(motion_gmacs(model, 640, 192), 2),
    }
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights
        if weights is None:
            weights = f'{tmp}/bench.safetensors'
            save_weights(weights, model, config, (640, 192))
        est = Estimator(weights, device=args.device, precision=args.precision,
                        input_size=(640, 192), output='network')
    if est.device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(est.device)
    result['depth_fps_640x192'] = round(time_depth_only(est, args.frames, args.warmup), 2)
    fps, per_stage = time_pipeline(est, args.frames, args.warmup)
    result['pipeline_fps_640x192'] = round(fps, 2)
    result['pipeline_ms'] = {key: round(value, 2) for key, value in per_stage.items()}
    result.update(device=str(est.device), precision=args.precision,
                  threads=torch.get_num_threads(), torch=torch.__version__,
                  cpu=platform.processor() or platform.machine(),
                  peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    if est.device.type == 'cuda':
        result['gpu'] = torch.cuda.get_device_name(est.device)
        result['peak_cuda_mib'] = round(torch.cuda.max_memory_allocated(est.device) / 2**20)

    if args.json:
        print(json.dumps(result))
    else:
        width = max(len(key) for key in result)
        for key, value in result.items():
            print(f'{key:<{width}}  {value}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
