"""`rmdepth-eval`: evaluate rmdepth on a ROS 2 bag or a dataset folder, or on KITTI Eigen.

    rmdepth-eval INPUT [--mode offline|live] [--out DIR] [--output-bag BAG] [--weights W]
                 [--gt-depth-topic T] [--gt-odom-topic T] [--gt-flow-topic T] ...
                 [--backend torch|auto|onnxruntime|openvino]
    rmdepth-eval --mode kitti-eigen --kitti-root RAW --test-files eigen_test_files.txt
    rmdepth-eval scorecard [--weights W] [--out DIR] [--quick]   (see evaluation/scorecard.py)

INPUT is anything `rmdepth_ros.open_sequence` reads (a bag folder / .mcap / .db3, a KITTI
raw drive, KITTI odometry, TUM, Cityscapes, a folder of images). offline runs the estimator on
every frame in-process; live plays the bag through a real rmdepth_node (bags only). The report
folder gets report.md, metrics.json and PNG plots; metrics without ground truth are listed as
skipped with the reason.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

from rmdepth_ros.datasets.sequence import DataError
from rmdepth_ros.evaluation.dds_env import ensure_localhost_dds
from rmdepth_ros.geometry.depth_from_motion import DEFAULT_DEPTH_SOURCE, DEPTH_SOURCES
from rmdepth_ros.motion.hybrid import DEFAULT_MOTION_SOURCE, MOTION_SOURCES
from rmdepth_ros.resize import DEFAULT_RESIZE, RESIZE_MODES

#: The Estimator's backend choices (rmdepth_ros.backends.BACKEND_CHOICES; not imported here: it
#: loads torch).
BACKENDS = ('auto', 'torch', 'onnxruntime', 'openvino')


def _say(message: str) -> None:
    print(f'[rmdepth-eval] {message}', flush=True)


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected WIDTHxHEIGHT, got {text!r}') from None
    return width, height


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='rmdepth-eval', description=__doc__.splitlines()[0])
    parser.add_argument('input', nargs='?', help='bag or dataset folder (not for kitti-eigen)')
    parser.add_argument('--mode', choices=('offline', 'live', 'kitti-eigen'), default='offline')
    parser.add_argument('--out', default='eval_report', help='report folder')
    parser.add_argument('--output-bag', help='write input + outputs to this new bag folder')
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap')
    parser.add_argument('--weights', help='weights file (default: the shipped weights)')
    parser.add_argument('--device', default='cpu', help='auto, cpu, cuda, cuda:N')
    parser.add_argument('--input-size', type=_size, help='network input WxH (default: the '
                        "weights' training size)")
    parser.add_argument('--resize', choices=RESIZE_MODES, default=DEFAULT_RESIZE,
                        help="images of another aspect ratio than the network's: centre-crop "
                        '(NaN outside), pad or stretch (default: %(default)s)')
    parser.add_argument('--backend', choices=BACKENDS, default='torch',
                        help='where the networks run (default: %(default)s; auto: the fastest '
                        'installed, as the node does); onnxruntime and openvino need pip install '
                        '-r requirements-backends.txt')
    parser.add_argument('--motion-source', choices=MOTION_SOURCES, default=DEFAULT_MOTION_SOURCE,
                        help="camera motion: the motion network's (network) or image geometry "
                        "fused with the network's depth (hybrid; the network's own motion is "
                        'then scored beside it); default: %(default)s')
    parser.add_argument('--depth-source', choices=DEPTH_SOURCES, default=DEFAULT_DEPTH_SOURCE,
                        help="depth, flow and masks: refined by what the camera's motion "
                        "measures (fused; the network's own depth is then scored beside it) or "
                        "the networks' own (network); default: %(default)s")
    parser.add_argument('--image-topic')
    parser.add_argument('--camera-info-topic')
    for kind in ('depth', 'odom', 'flow', 'mask'):
        parser.add_argument(f'--gt-{kind}-topic', help=f"ground-truth {kind} topic ('' = none; "
                            'default: /ground_truth/* when present)')
    parser.add_argument('--gt-tf', metavar='PARENT:CHILD', help='ground-truth poses from this '
                        '/tf edge of the bag (instead of an Odometry topic)')
    parser.add_argument('--max-depth', type=float, default=80.0, help='depth cap, metres')
    parser.add_argument('--crop', choices=('none', 'garg', 'eigen'), default='none')
    parser.add_argument('--rate', type=float, default=1.0, help='live: playback speed factor')
    parser.add_argument('--lockstep', action='store_true',
                        help='live: send each image only after the node answered the previous')
    parser.add_argument('--kitti-root', help='kitti-eigen: KITTI raw root folder')
    parser.add_argument('--test-files', help='kitti-eigen: the Eigen test list')
    parser.add_argument('--camera-height', type=float, default=1.65,
                        help='metres above the ground, for the flat-ground depth baseline')
    parser.add_argument('--no-baselines', action='store_true',
                        help='do not run the baselines (zero / constant / classical methods)')
    parser.add_argument('--no-progress', action='store_true')
    return parser


def _open(args: argparse.Namespace):
    from rmdepth_ros.bags.reader import BagSequence
    from rmdepth_ros.open_sequence import detect_reader, open_sequence

    path = Path(args.input)
    options = {}
    if detect_reader(path) is BagSequence:
        options = {'image_topic': args.image_topic, 'camera_info_topic': args.camera_info_topic,
                   'depth_topic': args.gt_depth_topic, 'odom_topic': args.gt_odom_topic,
                   'flow_topic': args.gt_flow_topic, 'mask_topic': args.gt_mask_topic}
    elif args.mode == 'live' or args.gt_tf:
        raise DataError(f'{path}: live mode and --gt-tf need a ROS 2 bag')
    sequence = open_sequence(path, **options)
    if args.gt_tf:
        from rmdepth_ros.evaluation.tf_truth import PosedSequence, tf_camera_poses

        poses = tf_camera_poses(path, args.gt_tf, sequence.topics.image, sequence.stamps_ns)
        _say(f'ground-truth poses from /tf {args.gt_tf}: {sum(p is not None for p in poses)} '
             f'of {len(poses)} frames')
        sequence = PosedSequence(sequence, poses)
    return sequence


def run(args: argparse.Namespace) -> dict:
    """Evaluate as `args` says; returns the summary written to metrics.json."""
    from rmdepth_ros.evaluation.weights_choice import choose_weights

    out_dir = Path(args.out)
    weights, note = choose_weights(args.weights, out_dir, _say)
    progress = not args.no_progress
    if args.mode == 'kitti-eigen':
        return _kitti(args, weights, note, out_dir, progress)
    sequence = _open(args)
    from rmdepth_ros.evaluation.baselines.runner import BaselineOptions, BaselineRunner
    from rmdepth_ros.evaluation.output_bag import OutputBag
    from rmdepth_ros.evaluation.report import write_report
    from rmdepth_ros.evaluation.scoring import ScoreOptions, Scorer
    from rmdepth_ros.evaluation.session import Session, sample_indices

    bag = OutputBag(args.output_bag, args.storage) if args.output_bag else None
    options = ScoreOptions(max_depth=args.max_depth,
                           crop=None if args.crop == 'none' else args.crop)
    baselines = None if args.no_baselines else BaselineRunner(
        BaselineOptions(camera_height=args.camera_height), options)
    session = Session(Scorer(options), bag=bag, samples_at=sample_indices(len(sequence)),
                      baselines=baselines)
    if note:
        session.notes.append(note)
    _say(f'{args.mode}: {len(sequence)} frames of {args.input} with {weights}')
    try:
        if args.mode == 'live':
            from rmdepth_ros.evaluation.live import LiveOptions, run_live

            out_dir.mkdir(parents=True, exist_ok=True)
            run_live(sequence, session, LiveOptions(
                weights=str(weights), device=args.device, input_size=args.input_size,
                resize=args.resize, backend=args.backend, motion_source=args.motion_source,
                depth_source=args.depth_source,
                rate=args.rate, lockstep=args.lockstep, log_path=out_dir / 'node.log',
                progress=progress))
        else:
            from rmdepth_ros.evaluation.offline import run_offline
            from rmdepth_ros.inference import Estimator

            estimator = Estimator(weights, device=args.device, input_size=args.input_size,
                                  resize=args.resize, backend=args.backend, log=_say,
                                  motion_source=args.motion_source,
                                  depth_source=args.depth_source)
            run_offline(sequence, estimator, session, progress)
    except BaseException:
        if bag is not None:
            bag.abort()
        raise
    if bag is not None:
        _say(f'output bag: {bag.close()} ({bag.messages} messages)')
    playback = (f"rate x{args.rate:g}{', lockstep' if args.lockstep else ''}"
                if args.mode == 'live' else 'in-process, every frame')
    summary = write_report(session, out_dir, {'input': str(args.input), 'playback': playback,
                                              'weights': str(weights)})
    for family, reason in summary['skipped'].items():
        _say(f'skipped {family}: {reason}')
    for sentence in summary.get('verdict', []):
        _say(sentence)
    _say(f'report: {out_dir / "report.md"}')
    return summary


def _kitti(args, weights: Path, note: str | None, out_dir: Path, progress: bool) -> dict:
    import json

    from rmdepth_ros.evaluation.kitti_eigen import evaluate_kitti_eigen
    from rmdepth_ros.evaluation.report import depth_table
    from rmdepth_ros.inference import Estimator

    if not (args.kitti_root and args.test_files):
        raise DataError('kitti-eigen needs --kitti-root and --test-files')
    estimator = Estimator(weights, device=args.device, input_size=args.input_size,
                          resize=args.resize, backend=args.backend, log=_say)
    result = evaluate_kitti_eigen(args.kitti_root, args.test_files, estimator, args.max_depth,
                                  progress)
    result.update(weights=str(weights), notes=[note] if note else [])
    table = depth_table(result['metrics']) if result['metrics'] else '(no valid image)'
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / 'metrics.json').write_text(json.dumps(result, indent=2))
    (out_dir / 'report.md').write_text(
        '# KITTI Eigen test split (Garg crop, cap 80 m, median scaling)\n\n'
        + ''.join(f'> **{n}**\n\n' for n in result['notes'])
        + f"{result['images']} images, weights {weights}\n\n{table}\n")
    print(table)
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['scorecard']:
        from rmdepth_ros.evaluation.scorecard import main as scorecard_main

        ensure_localhost_dds(_say)
        return scorecard_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.mode != 'kitti-eigen' and not args.input:
        parser.error('INPUT is required (a bag or dataset folder)')
    if args.rate <= 0:
        parser.error('--rate must be positive')
    ensure_localhost_dds(_say)
    try:
        run(args)
    except (DataError, FileExistsError, ValueError, OSError) as error:
        print(f'rmdepth-eval: {error}', file=sys.stderr)
        return 1
    except RuntimeError as error:  # LiveError: the node did not start or connect
        print(f'rmdepth-eval: {error}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
