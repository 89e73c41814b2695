"""`make demo`: the embedded default sequence, live through rmdepth_node, evaluated and reported.

Steps, each announced on the terminal:

1. weights: the shipped weights, or (loudly) untrained weights when none ship yet;
2. the embedded default sequence: the synthetic street world with a fixed seed (exact ground
   truth for depth, camera motion, flow and moving-object masks), written as a ROS 2 bag;
3. the bag is played LIVE into the ROS graph through the real rmdepth_node (a subprocess on the
   localhost-only DDS profile), in lockstep: each image waits for the node's answer to the
   previous one, and never goes faster than the recorded 10 Hz;
4. what the node published is scored against the ground truth; report.md, metrics.json, PNG
   plots and an output bag (input + outputs, for rviz2) go to the output folder.

It ends with a short table and the paths to look at.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import shutil
import sys
import time

from rmdepth_ros.datasets.sequence import DataError

DEMO_SEED = 20221  # the embedded default sequence; never used for training
DEMO_FRAMES = 200  # 20 s of driving at 10 Hz: ~1-3 min live at 192x64 on a shared 2-core CPU
DEMO_SIZE = (640, 192)  # camera images (width, height); the network runs at the weights' size


def _say(message: str) -> None:
    print(f'[demo] {message}', flush=True)


def _fmt(value: float | None, spec: str) -> str:
    return 'n/a' if value is None else format(value, spec)


def _print_table(summary: dict, out_dir: Path, input_bag: Path, output_bag: Path) -> None:
    depth = summary.get('depth', {}).get('median_scaled', {})
    traj = summary.get('trajectory', {})
    latency = summary.get('latency', {})
    trained = not summary.get('notes')
    lines = [
        ('weights', 'shipped' if trained else 'UNTRAINED (random) - numbers are meaningless'),
        ('frames in / answered', f"{summary['inputs']} / {summary['outputs']['depth']}"),
        ('throughput', f"{_fmt(summary.get('throughput_fps'), '.2f')} FPS (live, lockstep)"),
        ('latency median', f"{_fmt(latency.get('median_ms'), '.0f')} ms"),
        ('depth AbsRel (median-scaled)', _fmt(depth.get('abs_rel'), '.3f')),
        ('depth delta<1.25', _fmt(depth.get('a1'), '.3f')),
        ('trajectory ATE (sim3, m)', _fmt(traj.get('ate_rmse'), '.3f')),
        ('5-frame snippet ATE (m)', _fmt(traj.get('snippet_ate_mean'), '.4f')),
        ('flow EPE (px) / Fl-all', f"{_fmt(summary.get('flow', {}).get('epe'), '.2f')} / "
         f"{_fmt(summary.get('flow', {}).get('fl_all'), '.3f')}"),
        ('moving-object IoU', _fmt(summary.get('motion_mask', {}).get('iou'), '.3f')),
    ]
    width = max(len(name) for name, _ in lines)
    print()
    for name, value in lines:
        print(f'  {name:<{width}}  {value}')
    print(f'\n  report:      {out_dir / "report.md"}'
          f'\n  metrics:     {out_dir / "metrics.json"}'
          f"\n  plots:       {', '.join(str(out_dir / p) for p in summary['plots'].values())}"
          f'\n  input bag:   {input_bag}'
          f'\n  output bag:  {output_bag}  (replay: ros2 bag play {output_bag}; rviz2 topics '
          '/rmdepth/*)')
    if summary.get('verdict'):
        print('\n  Against baselines (skill = system error / baseline error, < 1 = better; '
              'report.md has the table):')
        for sentence in summary['verdict']:
            print(f'  - {sentence}')
    for note in summary.get('notes', []):
        print(f'\n  !!! {note}')


def run(out_dir: Path, frames: int, size: tuple[int, int], device: str) -> dict:
    """The whole demo (module docstring); returns the evaluation summary."""
    from rmdepth_ros.evaluation.baselines.runner import BaselineOptions, BaselineRunner
    from rmdepth_ros.evaluation.dds_env import ensure_localhost_dds

    ensure_localhost_dds(_say)
    from rmdepth_ros.bags.reader import BagSequence
    from rmdepth_ros.bags.writer import SYNTHETIC_START, write_bag
    from rmdepth_ros.evaluation.live import LiveOptions, run_live
    from rmdepth_ros.evaluation.output_bag import OutputBag
    from rmdepth_ros.evaluation.report import write_report
    from rmdepth_ros.evaluation.scoring import Scorer
    from rmdepth_ros.evaluation.session import Session, sample_indices
    from rmdepth_ros.evaluation.weights_choice import choose_weights
    from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

    out_dir.mkdir(parents=True, exist_ok=True)
    input_bag, output_bag = out_dir / 'input_bag', out_dir / 'output_bag'
    for old in (input_bag, output_bag):
        if old.exists():
            _say(f"removing the previous run's {old}")
            shutil.rmtree(old)
    _say('step 1/4: weights')
    weights, note = choose_weights(None, out_dir, _say)
    _say(f'using {weights}')

    config = SynthConfig(width=size[0], height=size[1], frames=frames, seed=DEMO_SEED)
    _say(f'step 2/4: generating the default sequence (synthetic street world, seed {DEMO_SEED},'
         f' {frames} frames at {size[0]}x{size[1]}, {config.fps:g} Hz) as a ROS 2 bag')
    tick = time.perf_counter()
    write_bag(SyntheticSequence(config), input_bag, camera_height=config.camera_height,
              start_time=SYNTHETIC_START)
    _say(f'wrote {input_bag} in {time.perf_counter() - tick:.1f} s')

    _say('step 3/4: playing the bag live through rmdepth_node (subprocess, localhost DDS), '
         'recording depth, flow, motion_mask and odom')
    sequence = BagSequence(input_bag)
    session = Session(Scorer(), bag=OutputBag(output_bag),
                      samples_at=sample_indices(len(sequence)),
                      baselines=BaselineRunner(BaselineOptions(camera_height=config.camera_height)))
    if note:
        session.notes.append(note)
    try:
        run_live(sequence, session, LiveOptions(weights=str(weights), device=device,
                                                lockstep=True, log_path=out_dir / 'node.log'))
    except BaseException:
        session.bag.abort()
        raise
    session.bag.close()
    _say(f'the node log is in {out_dir / "node.log"}')

    _say('step 4/4: scoring against the ground truth and writing the report and plots')
    summary = write_report(session, out_dir, {'input': str(input_bag), 'weights': str(weights),
                                              'playback': 'live, lockstep, at most 10 Hz',
                                              'seed': DEMO_SEED, 'size': list(size)})
    _print_table(summary, out_dir, input_bag, output_bag)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='rmdepth-demo', description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='demo_output', help='output folder')
    parser.add_argument('--frames', type=int, default=DEMO_FRAMES)
    parser.add_argument('--size', default='{}x{}'.format(*DEMO_SIZE),
                        help='camera image size WxH')
    parser.add_argument('--device', default='cpu', help='auto, cpu, cuda, cuda:N')
    args = parser.parse_args(argv)
    try:
        width, height = (int(v) for v in args.size.lower().split('x'))
    except ValueError:
        parser.error(f'--size must be WIDTHxHEIGHT, got {args.size!r}')
    if args.frames < 5:
        parser.error('--frames must be at least 5 (one 5-frame snippet)')
    start = time.perf_counter()
    try:
        run(Path(args.out), args.frames, (width, height), args.device)
    except (DataError, ValueError, OSError, RuntimeError) as error:
        print(f'rmdepth-demo: {error}', file=sys.stderr)
        return 1
    _say(f'done in {time.perf_counter() - start:.0f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
