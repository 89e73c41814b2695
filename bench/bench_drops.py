#!/usr/bin/env python3
"""Resets and trajectory error of rmdepth_node when the camera is faster than inference.

Issue 12, item 4: a node that drops frames under load (latest wins) must not reset its
temporal state for its own drops, only for gaps in the stream. Measured through the real node
(subprocess, localhost DDS) with the synthetic street world, whose stamps advance with the wall
clock as a camera's do:

1. the node's processing rate P: lockstep on a short bag (each frame waits for the answer);
2. for each factor k (default 2 and 5): a synthetic bag at k * P Hz, played at its own rate
   (the node drops about (k - 1) of every k frames), and the same bag in lockstep (every frame
   processed, no drops) as the reference; optionally the same load run with another checkout's
   node (`--compare-python`, e.g. the main branch before the fix).

max_frame_gap is set between the input period at 2x and the processing period (0.75 / P by
default): the issue's regime (5 Hz camera, slower node, 0.5 s gap) at this machine's speed.
Resets are counted from the outputs: a processed frame without flow is a reset (the first frame
of the bag, after the warm-up, excepted). Trajectory error is against the exact ground truth on
the processed frames: ATE after a Sim(3) alignment, and the mean 5-frame-snippet ATE.

    python bench/bench_drops.py [--frames 40] [--factors 2 5] [--compare-python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import sys
import tempfile

_PROFILE = Path(__file__).resolve().parent.parent / 'config' / 'fastdds_localhost.xml'
os.environ['FASTRTPS_DEFAULT_PROFILES_FILE'] = str(_PROFILE)
os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = str(_PROFILE)
os.environ.pop('ROS_AUTOMATIC_DISCOVERY_RANGE', None)

SEED = 7  # one held-out street; the same for every run


def _bag(folder: Path, name: str, frames: int, fps: float, size: tuple[int, int]) -> Path:
    from rmdepth_ros.bags.writer import SYNTHETIC_START, write_bag
    from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

    config = SynthConfig(width=size[0], height=size[1], frames=frames, seed=SEED, fps=fps)
    return write_bag(SyntheticSequence(config), folder / name, fps=fps,
                     camera_height=config.camera_height, start_time=SYNTHETIC_START)


def _run(bag: Path, log: Path, lockstep: bool, gap: float | None,
         node_command: list[str] | None) -> dict:
    from rmdepth_ros.bags.reader import BagSequence
    from rmdepth_ros.evaluation.live import LiveOptions, run_live
    from rmdepth_ros.evaluation.scoring import Scorer
    from rmdepth_ros.evaluation.session import Session

    # dropped frames are never answered: wait only briefly for the last ones under load
    options = LiveOptions(lockstep=lockstep, log_path=log, progress=False, drain_timeout=3.0,
                          params=[] if gap is None else [f'max_frame_gap:={gap:.4f}'])
    if node_command:
        options.node_command = node_command
    session = run_live(BagSequence(bag), Session(Scorer()), options)
    summary = session.scorer.summary()
    outputs = summary['outputs']
    trajectory = summary.get('trajectory', {})
    return {'frames_in': summary['inputs'], 'processed': outputs['depth'],
            'resets': max(outputs['depth'] - outputs['flow'] - 1, 0),
            'wall_s': session.wall_s,
            'ate_rmse_m': trajectory.get('ate_rmse', float('nan')),
            'snippet_ate_m': trajectory.get('snippet_ate_mean', float('nan')),
            'gt_length_m': trajectory.get('gt_length_m', float('nan'))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=40,
                        help='frames the node should process per load run (default 40)')
    parser.add_argument('--factors', type=float, nargs='+', default=[2.0, 5.0],
                        help='input rate / processing rate (default 2 5)')
    parser.add_argument('--size', default='640x192', help='camera image size WxH')
    parser.add_argument('--max-frame-gap', type=float, default=None,
                        help='seconds (default 0.75 / processing rate)')
    parser.add_argument('--compare-python', default=None,
                        help="another checkout's venv python: also run its node under load")
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split('x'))
    rows = []
    with tempfile.TemporaryDirectory(prefix='bench_drops_') as tmp:
        folder = Path(tmp)
        calibration = _run(_bag(folder, 'calibration', 20, 100.0, size), folder / 'cal.log',
                           True, None, None)
        rate = calibration['processed'] / calibration['wall_s']
        gap = args.max_frame_gap or 0.75 / rate
        print(f'processing rate P = {rate:.2f} Hz (lockstep, {calibration["processed"]} '
              f'frames); max_frame_gap = {gap:.3f} s', file=sys.stderr)
        # -P: the other checkout's package, not the one in this working directory
        other = [args.compare_python, '-P', '-m', 'rmdepth_ros.ros.startup']
        for factor in args.factors:
            fps = factor * rate
            bag = _bag(folder, f'k{factor:g}', round(factor * args.frames), fps, size)
            runs = [('lockstep', True, None), ('load', False, None)]
            if args.compare_python:
                runs.append(('load, compared node', False, other))
            for mode, lockstep, command in runs:
                row = _run(bag, folder / f'k{factor:g}_{len(rows)}.log', lockstep, gap, command)
                rows.append({'factor': factor, 'input_hz': fps, 'mode': mode, **row})
                print(json.dumps(rows[-1]), file=sys.stderr)
    if args.json:
        print(json.dumps({'processing_hz': rate, 'max_frame_gap_s': gap, 'rows': rows}))
        return 0
    print(f'processing rate {rate:.2f} Hz, max_frame_gap {gap:.3f} s, seed {SEED}, '
          f'{size[0]}x{size[1]}')
    print('| input | mode | frames in | processed | resets | ATE rmse (m, Sim3) | '
          'snippet ATE (m) | path (m) |')
    print('|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['factor']:g}x = {r['input_hz']:.2f} Hz | {r['mode']} | {r['frames_in']} | "
              f"{r['processed']} | {r['resets']} | {r['ate_rmse_m']:.3f} | "
              f"{r['snippet_ate_m']:.4f} | {r['gt_length_m']:.1f} |")
    return 0


if __name__ == '__main__':
    sys.exit(main())
