"""Cost of the geometry stage (depth_source 'fused'), stage by stage, on one core.

    .venv/bin/python bench/bench_geometry.py [--frames 30] [--size 640x192] [--kitti DIR]
                                             [--threads 1] [--json out.json]

Held-out synthetic frames (seed 2000, with traffic) of --size go through
`rmdepth_ros.geometry.DepthFromMotion` alone - no network: the 'network depth' is the true depth
with a row-dependent error, the camera motion the true one - so that what is timed is the
geometry and nothing else. With --kitti, the first frames of a KITTI odometry folder (gray,
1241x376) are timed too. OpenCV runs on --threads threads (the issue's budget is one core).
Printed: the median milliseconds of each stage ('flow': DIS; 'flow_check': the backward DIS
and the forward-backward test; 'triangulate'; 'filter': propagation and update; 'mask';
'densify': the scale field and the fusion; 'outputs': back to the input grid and the published
flow) and of the whole step, and the same without DIS ('geometry without flow').
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import warnings

import cv2
import numpy as np

from rmdepth_ros.geometry.depth_from_motion import DepthFromMotion
from rmdepth_ros.motion.two_view import to_gray
from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence


def _synthetic(size: tuple[int, int], count: int) -> list[tuple]:
    with warnings.catch_warnings():  # the renderer's harmless NaN warnings (sky rays)
        warnings.simplefilter('ignore', RuntimeWarning)
        frames = list(SyntheticSequence(SynthConfig(width=size[0], height=size[1],
                                                    frames=count, seed=2000)))
    out = []
    for i, frame in enumerate(frames):
        depth = frame.depth.astype(np.float32)
        depth *= np.linspace(0.7, 1.4, depth.shape[0], dtype=np.float32)[:, None]
        depth[~np.isfinite(depth)] = np.nan
        motion = None if i == 0 else np.linalg.inv(frames[i - 1].pose) @ frame.pose
        out.append((to_gray(frame.image), frame.intrinsics, depth, motion))
    return out


def _kitti(folder: Path, count: int) -> list[tuple]:
    from rmdepth_ros.datasets.kitti import KittiOdometrySequence

    sequence = KittiOdometrySequence(folder)
    out = []
    for i in range(min(count, len(sequence))):
        frame = sequence[i]
        height, width = frame.image.shape[:2]
        # a stand-in network depth: a flat ground 1.65 m below the camera, 40 m above it
        rows = np.arange(height, dtype=np.float32)[:, None] - frame.intrinsics[1, 2]
        ground = 1.65 * frame.intrinsics[1, 1] / np.maximum(rows, 1.0)
        depth = np.broadcast_to(np.minimum(ground, 40.0), (height, width)).astype(np.float32)
        motion = None if i == 0 else np.linalg.inv(sequence[i - 1].pose) @ frame.pose
        out.append((to_gray(frame.image), frame.intrinsics, depth.copy(), motion))
    return out


def time_stages(frames: list[tuple]) -> dict[str, float]:
    dfm = DepthFromMotion()
    stages: dict[str, list[float]] = {}
    for gray, K, depth, motion in frames:
        out = dfm.step(gray, K, depth, motion)
        if motion is None:
            continue
        for stage, ms in out.timings.items():
            stages.setdefault(stage, []).append(ms)
        total = sum(out.timings.values())
        stages.setdefault('total', []).append(total)
        stages.setdefault('geometry without flow', []).append(total - out.timings['flow'])
    return {stage: float(np.median(values)) for stage, values in stages.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=30)
    parser.add_argument('--size', default='640x192')
    parser.add_argument('--kitti', type=Path, help='a KITTI odometry folder to time as well')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--json', type=Path)
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)
    width, height = (int(v) for v in args.size.split('x'))
    results = {f'synthetic {width}x{height}': time_stages(_synthetic((width, height),
                                                                     args.frames))}
    if args.kitti:
        results[f'KITTI {args.kitti.name}'] = time_stages(_kitti(args.kitti, args.frames))
    for name, stages in results.items():
        print(f'{name} ({args.threads} OpenCV thread(s), median ms per frame):')
        for stage, ms in stages.items():
            print(f'  {stage:24s} {ms:7.1f}')
    if args.json:
        args.json.write_text(json.dumps({'threads': args.threads, 'results': results},
                                        indent=2))


if __name__ == '__main__':
    main()
