#!/usr/bin/env python3
"""Online adaptation through the node's path: a robot patrolling the same streets (issue 18).

KITTI odometry 00 frames 0-199 (the validation sequence: never trained on by the shipped
weights; adapting to it here is what a user's node does with its own camera) are played in a
loop at 10 Hz for `--minutes`, once with adaptation off and once on. The path is the node's
own: frames go through its latest-wins slot (`LatestFrameSlot`: under load the newest frame
wins and the skipped stamps go to the estimator), the `Estimator`, and, with adaptation on,
`NodeAdaptation` with the node's default parameters (the code `adapt:=true` runs). Loops are
separated by a 1 s stamp gap, so each loop starts with a reset, as a looping bag would.

Reported per mode: `abs_rel`, `fused_abs_rel` and `snippet_ate`: the last loop replayed frame
by frame (every frame processed, the camera waiting for the node) with the weights the node
runs at the end: depth AbsRel on frames 0-99 against the stereo depth of `depth_stereo/`
(median-scaled, cap 80 m) of the depth network alone and of the node's output depth (fused,
the default depth_source), and 5-frame snippet ATE over 0-199, the same frames in both modes.
`live`: the same scores on the frames the node processed in its last live loop; there the
snippet ATE mostly
measures the drops (a motion over k frames instead of one: with the shipped weights on every
2nd frame 0.077 m, every 3rd 0.160 m, against 0.032 m on every frame), so it differs between
modes with the frame rate. Also node FPS over the loops before the last, adaptation steps,
accepted swaps and reverts.

    python bench/bench_adapt.py [--minutes 10] [--modes off on] [--json]
    python bench/bench_adapt.py --soak 10000 [--json]    # synthetic soak, adaptation on

The soak plays held-out synthetic streets (192x64, 1 s gaps between them) as fast as the node
processes them, with adaptation on, and reports the process's resident memory along the way,
steps, reverts, and depth AbsRel on those streets before and after (divergence would show).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import sys
import threading
import time
import warnings

import numpy as np

KITTI = Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'kitti_odometry_00'
FRAMES, DEPTH_FRAMES, RATE, LOOP_GAP = 200, 100, 10.0, 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--minutes', type=float, default=10.0, help='per mode (default 10)')
    parser.add_argument('--modes', nargs='+', default=['off', 'on'], choices=('off', 'on'))
    parser.add_argument('--data', default=str(KITTI), help='KITTI odometry 00 folder')
    parser.add_argument('--soak', type=int, default=0, metavar='FRAMES',
                        help='run the synthetic soak of this many frames instead')
    parser.add_argument('--save', metavar='FILE', help='write the adapted weights at the end '
                        '(as ~/save_weights does), e.g. for a scorecard')
    parser.add_argument('--json', action='store_true', help='one JSON line on stdout')
    args = parser.parse_args()
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    result = soak(args.soak) if args.soak else patrol(args)
    result['load_average'] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


def node_parts(adapt: bool):
    """The estimator and adaptation exactly as rmdepth_node builds them with default
    parameters (adapt on or off)."""
    from rmdepth_ros.inference import Estimator
    from rmdepth_ros.ros.adaptation import NodeAdaptation
    from rmdepth_ros.ros.node_config import NodeConfig

    config = NodeConfig.from_values({'adapt': adapt, 'device': 'cpu'})
    # as the node: backend 'auto' (OpenVINO here) without adaptation, torch with it
    estimator = Estimator(config.weights or None, device=config.device, resize=config.resize,
                          max_frame_gap=config.max_frame_gap,
                          backend='torch' if adapt else config.backend,
                          motion_source=config.motion_source)

    def log(line: str) -> None:
        print(f'[adapt] {line}', file=sys.stderr, flush=True)

    return estimator, (NodeAdaptation(estimator, config, log) if adapt else None)


def patrol(args: argparse.Namespace) -> dict:
    from rmdepth_training.adapt_scoring import stereo_depth

    from rmdepth_ros.open_sequence import open_sequence

    sequence = open_sequence(args.data)
    frames = [sequence[i] for i in range(FRAMES)]
    truths = [stereo_depth(args.data, i) for i in range(DEPTH_FRAMES)]
    loops = max(2, round(args.minutes * 60.0 * RATE / FRAMES))
    result = {'minutes': args.minutes, 'loops': loops, 'rate_hz': RATE}
    for mode in args.modes:
        print(f'bench_adapt: adaptation {mode}, {loops} loops of {FRAMES} frames at '
              f'{RATE:g} Hz', file=sys.stderr, flush=True)
        result[mode] = play(frames, truths, loops, mode == 'on', args.data,
                            args.save if mode == 'on' else None)
    if 'off' in result and 'on' in result:
        off, on = result['off'], result['on']
        result['abs_rel'] = {m: result[m]['abs_rel'] for m in ('off', 'on')}
        result['fused_abs_rel'] = {m: result[m]['fused_abs_rel'] for m in ('off', 'on')}
        result['snippet_ate'] = {m: result[m]['snippet_ate'] for m in ('off', 'on')}
        result['abs_rel_ratio'] = on['abs_rel'] / off['abs_rel']
        result['fused_abs_rel_ratio'] = on['fused_abs_rel'] / off['fused_abs_rel']
        result['snippet_ate_ratio'] = on['snippet_ate'] / off['snippet_ate']
        result['ratio'] = on['fps'] / off['fps']
        result['live_abs_rel_ratio'] = on['live']['abs_rel'] / off['live']['abs_rel']
    return result


def play(frames: list, truths: list, loops: int, adapt: bool, folder: str,
         save: str | None = None) -> dict:
    """Play `loops` loops through the node's path; the measurements of one mode."""
    from rmdepth_training.adapt_scoring import kitti_scores, snippet_ate

    from rmdepth_ros.evaluation.metrics import depth_metrics
    from rmdepth_ros.ros.frame_slot import LatestFrameSlot

    estimator, adaptation = node_parts(adapt)
    slot = LatestFrameSlot()
    done = threading.Event()

    def camera() -> None:  # 10 Hz wall clock; stamps continue, 1 s gap between loops
        start = time.perf_counter()
        for n in range(loops * FRAMES):
            loop, index = divmod(n, FRAMES)
            wait = start + n / RATE - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            stamp = 1000.0 + n / RATE + loop * LOOP_GAP
            slot.put((loop, index, stamp), stamp)
        time.sleep(2.0 / RATE)
        done.set()
        slot.close()

    threading.Thread(target=camera, daemon=True).start()
    processed, last_loop_start = 0, None
    began = time.perf_counter()
    abs_rels, fused, motions, indices = [], [], [], []
    while True:
        taken = slot.take_with_skipped(timeout=0.5)
        if taken is None:
            if done.is_set():
                break
            continue
        (loop, index, stamp), skipped = taken
        frame = frames[index]
        out = estimator.process(frame.image, frame.intrinsics, stamp, skipped=skipped)
        if loop < loops - 1:
            processed += 1
            continue
        if last_loop_start is None:
            last_loop_start = time.perf_counter()
        if index < DEPTH_FRAMES:
            for values, depth in ((abs_rels, out.network_depth), (fused, out.depth)):
                row = depth_metrics(truths[index], depth, max_depth=80.0)
                if row is not None:
                    values.append(row['abs_rel'])
        if out.motion is not None and indices:
            motions.append(out.motion)
            indices.append(index)
        elif out.motion is None:
            motions, indices = [], [index]
    wall = (last_loop_start or time.perf_counter()) - began
    stats = dict(adaptation.engine.stats) if adaptation is not None else {}
    diagnostics = adaptation.diagnostics() if adaptation is not None else {}
    if adaptation is not None:
        adaptation.stop()
        if save:
            adaptation.save_path = save
            print(f'bench_adapt: {adaptation.save()[1]}', file=sys.stderr, flush=True)
    poses = [frames[i].pose for i in indices]
    live = {'abs_rel': float(np.mean(abs_rels)), 'fused_abs_rel': float(np.mean(fused)),
            'depth_frames_scored': len(abs_rels),
            'snippet_ate': snippet_ate(motions, poses), 'motion_frames': len(indices)}
    # The last loop again, every frame (the camera waiting for the node), with the weights in
    # use at the end: the same frames for both modes, whatever the live loop dropped.
    estimator.observer = None
    scores = kitti_scores(estimator, _Frames(frames), folder, range(DEPTH_FRAMES),
                          range(FRAMES))
    return {'abs_rel': scores['abs_rel'], 'fused_abs_rel': scores['output_abs_rel'],
            'snippet_ate': scores['snippet_ate'],
            'fps': processed / wall, 'frames_processed': processed,
            'steps': int(stats.get('steps', 0)), 'swaps': int(stats.get('swaps', 0)),
            'reverts': int(stats.get('reverts', 0)), 'diagnostics': diagnostics, 'live': live}


class _Frames:
    """Preloaded frames as a sequence (kitti_scores indexes it)."""

    def __init__(self, frames: list) -> None:
        self.frames = frames

    def __getitem__(self, index: int):
        return self.frames[index]

    def __len__(self) -> int:
        return len(self.frames)


def soak(count: int) -> dict:
    """Synthetic soak: `count` frames through the node's path with adaptation on."""
    from rmdepth_ros.evaluation.metrics import depth_metrics
    from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

    streets = []
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        for seed in (2100, 2101, 2102, 2103):  # held-out seeds (< 1,000,000)
            sequence = SyntheticSequence(SynthConfig(width=192, height=64, frames=100,
                                                     seed=seed))
            streets.append([sequence[i] for i in range(100)])
    estimator, adaptation = node_parts(True)

    def street_abs_rel() -> float:
        observer, estimator.observer = estimator.observer, None
        values = []
        for street in streets:
            estimator.reset('scoring')
            for frame in street[::5]:
                out = estimator.process(frame.image, frame.intrinsics, frame.timestamp,
                                        compute_motion=False)
                row = depth_metrics(frame.depth, out.depth, max_depth=80.0)
                if row is not None:
                    values.append(row['abs_rel'])
        estimator.observer = observer
        return float(np.mean(values))

    before = street_abs_rel()
    rss, began = [], time.perf_counter()
    stamp = 1000.0
    for n in range(count):
        street, index = divmod(n % 400, 100)
        frame = streets[street][index]
        stamp += 0.1 + (LOOP_GAP if index == 0 else 0.0)
        estimator.process(frame.image, frame.intrinsics, stamp)
        if n % 250 == 0 or n == count - 1:
            rss.append((n, _rss_mb()))
            print(f'soak: frame {n}, rss {rss[-1][1]:.0f} MB, '
                  f'{adaptation.diagnostics()}', file=sys.stderr, flush=True)
    wall = time.perf_counter() - began
    stats = dict(adaptation.engine.stats)
    adaptation.stop()
    settled = [mb for n, mb in rss if n >= min(1000, count // 4)]
    return {'soak_frames': count, 'fps': count / wall, 'steps': stats['steps'],
            'swaps': stats['swaps'], 'reverts': stats['reverts'],
            'abs_rel_before': before, 'abs_rel_after': street_abs_rel(),
            'rss_mb': rss, 'rss_growth_after_warmup_mb': settled[-1] - settled[0],
            'rss_max_mb': max(mb for _, mb in rss)}


def _rss_mb() -> float:
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024.0
    return float('nan')


if __name__ == '__main__':
    sys.exit(main())
