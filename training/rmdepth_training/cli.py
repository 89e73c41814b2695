"""`rmdepth-train`: train, resume, export and evaluate.

    rmdepth-train train --config training/configs/cpu_synthetic.yaml [section.key=value ...]
    rmdepth-train train --resume runs/NAME [section.key=value ...]
    rmdepth-train export runs/NAME [--out FILE] [--dtype float16]
    rmdepth-train evaluate WEIGHTS [--render WxH] [--breakdown] [--seeds validation] [--json FILE]
    rmdepth-train adapt SOURCE [SOURCE ...] --minutes M --out FILE [--weights START]
    rmdepth-train label SOURCE --out DIR [--weights FILE]   (pseudo-labels from geometry)

Multi-GPU: torchrun --nproc_per_node=N -m rmdepth_training.cli train --config ...
Configuration errors print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

from rmdepth_training.config import ConfigError, build_config, from_flat


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ['label']:
        from rmdepth_training.label import main as label_main

        return label_main(argv[1:])
    if argv[:1] == ['adapt']:
        # Its own parser, options first included (argparse's REMAINDER would not take them).
        from rmdepth_training.adapt_offline import main as adapt_main

        return adapt_main(argv[1:])
    parser = argparse.ArgumentParser(prog='rmdepth-train', description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    train = sub.add_parser('train', help='train (or resume) a run')
    train.add_argument('--config', help='YAML experiment file (training/configs/*.yaml)')
    train.add_argument('--resume', metavar='RUN', help='continue RUN from its newest checkpoint')
    train.add_argument('overrides', nargs='*', metavar='section.key=value')
    export = sub.add_parser('export', help="write a run's weights file")
    export.add_argument('run', help='run folder (out_dir/name)')
    export.add_argument('--out', help='weights file (default RUN/weights.safetensors)')
    export.add_argument('--checkpoint', help='checkpoint file (default: the newest)')
    export.add_argument('--dtype', default='float16', help='float32, float16 (default), bfloat16')
    export.add_argument('--notes', default='', help='extra text for the notes field')
    evaluate = sub.add_parser('evaluate', help='evaluate a weights file (evaluate_synthetic)')
    evaluate.add_argument('rest', nargs=argparse.REMAINDER)
    sub.add_parser('label', add_help=False,
                   help='pseudo-labels: fused depth over a video (--help: options)')
    adapt = sub.add_parser('adapt', add_help=False,
                           help='adapt weights to your camera from your video (--help: options)')
    adapt.add_argument('rest', nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    try:
        if args.command == 'train':
            return _train(args)
        if args.command == 'export':
            from rmdepth_training.export import export as run_export

            result = run_export(args.run, args.out, args.checkpoint, args.dtype, args.notes)
            print(json.dumps(result, indent=2))
            return 0
        from rmdepth_training.evaluate_synthetic import main as evaluate_main

        return evaluate_main(args.rest)
    except ConfigError as error:
        print(f'rmdepth-train: error: {error}', file=sys.stderr)
        return 2


def _train(args: argparse.Namespace) -> int:
    from rmdepth_training.train import train

    if args.resume:
        if args.config:
            raise ConfigError('--resume takes the config saved in the run; drop --config')
        run = Path(args.resume)
        saved = run / 'config.yaml'
        if not saved.is_file():
            raise ConfigError(f'{run}: not a run folder (no config.yaml)')
        cfg = build_config(saved, args.overrides)
        # The run folder is where it is now, whatever out_dir/name said when it started.
        cfg = from_flat({**_flat(cfg), 'out_dir': str(run.parent), 'name': run.name})
        summary = train(cfg, resume=True)
    else:
        summary = train(build_config(args.config, args.overrides))
    shown = {k: v for k, v in summary.items() if k != 'losses'}
    print(json.dumps(shown, indent=2, default=str))
    return 130 if summary.get('interrupted') else 0  # 128 + SIGINT, as a shell reports it


def _flat(cfg) -> dict:
    from rmdepth_training.config import to_dict

    flat = {}
    for key, value in to_dict(cfg).items():
        if isinstance(value, dict):
            flat.update({f'{key}.{k}': v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


if __name__ == '__main__':
    sys.exit(main())
