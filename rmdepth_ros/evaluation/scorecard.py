"""`rmdepth-eval scorecard`: every output on real and held-out synthetic data, beside baselines.

    rmdepth-eval scorecard [--weights FILE] [--out DIR] [--data DIR] [--frames N]
                           [--seeds N] [--synthetic-frames N] [--quick] [--resize MODE]

Runs the estimator (exactly as a user's camera feeds it: full-size frames, gray as gray) and
every baseline (`baselines/`) on the sets of `scorecard_sets`: KITTI odometry 00 (validation),
06 and 07 (training sequences) for camera motion, KITTI 00 frames 0-99 with stereo depth and
rigid-flow ground truth for depth and flow, the DDAD sample for depth, and held-out synthetic
seeds for depth, camera motion, flow and masks. Writes DIR/scorecard.md (one table,
then one sentence per set and output saying which baselines the system beats) and
DIR/scorecard.json (everything, per sequence).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
import sys
import time

from tqdm import tqdm

from rmdepth_ros.evaluation.baselines.runner import BASELINES, BaselineOptions, BaselineRunner
from rmdepth_ros.evaluation.scorecard_sets import DEFAULT_DATA, ScoreSet, available_sets
from rmdepth_ros.evaluation.skill import COMPARED, average_rows, verdicts
from rmdepth_ros.geometry.depth_from_motion import DEFAULT_DEPTH_SOURCE, DEPTH_SOURCES
from rmdepth_ros.motion.hybrid import DEFAULT_MOTION_SOURCE, MOTION_SOURCES
from rmdepth_ros.resize import DEFAULT_RESIZE, RESIZE_MODES

#: the errors the scorecard table shows (all are in scorecard.json)
TABLE_METRICS = ('abs_rel', 'snippet_ate_mean', 'rpe_trans_per_m', 'yaw_sum_err_deg', 'epe',
                 'fl_all', 'mask_error', 'moving_fraction_static')


def _say(message: str) -> None:
    print(f'[scorecard] {message}', flush=True)


def run_set(score_set: ScoreSet, estimator, bar: tqdm) -> dict:
    """Every sequence of one set through the estimator and the baselines -> the set's result:
    per-sequence summaries and the comparison rows averaged over sequences."""
    from rmdepth_ros.bags.layout import seconds_to_ns
    from rmdepth_ros.evaluation.prediction import PoseIntegrator, prediction_from_output
    from rmdepth_ros.evaluation.report import build_summary
    from rmdepth_ros.evaluation.scoring import ScoreOptions, Scorer
    from rmdepth_ros.evaluation.session import Session

    options = ScoreOptions(max_depth=score_set.max_depth)
    per_sequence, all_rows = [], []
    for sequence in score_set.open():
        estimator.reset('new sequence')
        session = Session(Scorer(options), baselines=BaselineRunner(
            BaselineOptions(camera_height=score_set.camera_height), options))
        integrator = PoseIntegrator()
        network = None if estimator.motion_source == 'network' else PoseIntegrator()
        bar.set_description(f'{score_set.key}: {sequence.name}')
        start = time.perf_counter()
        for i, frame in enumerate(sequence):
            if score_set.per_frame:
                estimator.reset('not a video')
            output = estimator.process(frame.image, frame.intrinsics, frame.timestamp)
            stamp = seconds_to_ns(frame.timestamp)
            session.consume(frame, prediction_from_output(i, stamp, output, integrator, network),
                            stamp)
            bar.update(1)
        session.wall_s = time.perf_counter() - start
        summary = build_summary(session, {'sequence': sequence.name, 'frames': len(sequence)})
        per_sequence.append(summary)
        all_rows.append(summary['comparison'])
    rows = average_rows(all_rows)
    return {'title': score_set.title, 'sequences': per_sequence, 'comparison': rows,
            'verdict': verdicts(rows)}


def _cell(value: float, skill_value: float | None = None) -> str:
    text = f'{value:.3g}'
    if skill_value is not None:
        text += ' (inf)' if math.isinf(skill_value) else f' ({skill_value:.2f})'
    return text


def markdown(card: dict) -> str:
    """The scorecard as markdown: one table, then the verdicts."""
    names = list(BASELINES)
    head = ['set', 'metric', 'system'] + [BASELINES[n][1] for n in names]
    lines = ['# rmdepth scorecard', '',
             f"Weights {card['weights']} (model id {card['model_id']}, network input "
             f"{card['input_size'][0]}x{card['input_size'][1]}, resize {card['resize']}, "
             f"motion source {card.get('motion_source', 'network')}), "
             f"{card['runtime_s']:.0f} s on {card['threads']} CPU threads. Cells: baseline "
             'value (skill = system error / baseline error; < 1 = the system is better). '
             'Every figure is an error: lower is better.', '',
             '| ' + ' | '.join(head) + ' |', '|' + '|'.join(['---'] * 2 + ['---:'] * (
                 len(head) - 2)) + '|']
    labels = {key: label for _, key, label in COMPARED}
    for result in card['sets'].values():
        for metric in TABLE_METRICS:
            rows = {r['baseline']: r for r in result['comparison'] if r['metric'] == metric}
            if not rows:
                continue
            system = next(iter(rows.values()))['system']
            cells = [_cell(rows[n]['value'], rows[n]['skill']) if n in rows else ''
                     for n in names]
            lines.append(f"| {result['title']} | {labels[metric]} | {_cell(system)} | "
                         + ' | '.join(cells) + ' |')
    lines.append('')
    for result in card['sets'].values():
        lines += [f"- **{result['title']}**: {sentence}" for sentence in result['verdict']]
    if card['skipped']:
        lines += ['', 'Not scored:', '']
        lines += [f'- {key}: {reason}' for key, reason in card['skipped'].items()]
    return '\n'.join(lines) + '\n'


def run(args: argparse.Namespace) -> dict:
    """The scorecard as `args` says; returns what scorecard.json holds."""
    import torch

    from rmdepth_ros.inference import Estimator

    start = time.perf_counter()
    sets, skipped = available_sets(Path(args.data), args.frames, args.seeds,
                                   args.synthetic_frames)
    for key, reason in skipped.items():
        _say(f'not scored: {key}: {reason}')
    estimator = Estimator(args.weights, device=args.device, resize=args.resize,
                          motion_source=args.motion_source, depth_source=args.depth_source)
    opened = [(s, s.open()) for s in sets]
    total = sum(len(seq) for _, sequences in opened for seq in sequences)
    card: dict = {'weights': args.weights or 'shipped default', 'model_id': estimator.model_id,
                  'input_size': list(estimator.input_size), 'resize': args.resize,
                  'motion_source': args.motion_source, 'depth_source': args.depth_source,
                  'data': str(args.data),
                  'threads': torch.get_num_threads(), 'skipped': skipped, 'sets': {}}
    with tqdm(total=total, unit='frame', disable=args.no_progress) as bar:
        for score_set, sequences in opened:
            score_set.open = lambda sequences=sequences: sequences  # opened once
            card['sets'][score_set.key] = run_set(score_set, estimator, bar)
    card['runtime_s'] = time.perf_counter() - start
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / 'scorecard.json').write_text(json.dumps(card, indent=2, default=str))
    (out / 'scorecard.md').write_text(markdown(card))
    return card


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='rmdepth-eval scorecard',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('--weights', help='weights file (default: the shipped weights)')
    parser.add_argument('--out', default='scorecard', help='output folder')
    parser.add_argument('--data', default=str(DEFAULT_DATA), help='the shared data folder')
    parser.add_argument('--frames', type=int, help='at most N frames of each real sequence')
    parser.add_argument('--seeds', type=int, default=8, help='held-out synthetic sequences')
    parser.add_argument('--synthetic-frames', type=int, default=20)
    parser.add_argument('--quick', action='store_true',
                        help='smoke test: 6 frames per real sequence, 1 synthetic seed of 6')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--resize', choices=RESIZE_MODES, default=DEFAULT_RESIZE,
                        help="how other aspect ratios reach the network (Estimator's resize)")
    parser.add_argument('--motion-source', choices=MOTION_SOURCES, default=DEFAULT_MOTION_SOURCE,
                        help="the system's camera motion (Estimator's motion_source); with "
                        "'hybrid' the network's own motion is scored beside it")
    parser.add_argument('--depth-source', choices=DEPTH_SOURCES, default=DEFAULT_DEPTH_SOURCE,
                        help="the system's depth, flow and masks (Estimator's depth_source); "
                        "with 'fused' the network's own depth is scored beside it")
    parser.add_argument('--no-progress', action='store_true')
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.seeds, args.synthetic_frames = 6, 1, 6
    for name in ('frames', 'seeds', 'synthetic_frames'):
        value = getattr(args, name)
        if value is not None and value < (5 if name != 'seeds' else 1):
            parser.error(f"--{name.replace('_', '-')} must be at least "
                         f"{5 if name != 'seeds' else 1} (a 5-frame snippet), got {value}")
    try:
        card = run(args)
    except (ValueError, OSError) as error:
        print(f'rmdepth-eval scorecard: {error}', file=sys.stderr)
        return 1
    print(markdown(card))
    _say(f"wrote {Path(args.out) / 'scorecard.md'} and scorecard.json "
         f"({card['runtime_s']:.0f} s)")
    return 0
