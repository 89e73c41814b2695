"""The report folder: metrics.json, report.md and the PNG plots of one evaluation session."""

from __future__ import annotations

import json
from pathlib import Path

from rmdepth_ros.evaluation.metrics import DEPTH_METRICS
from rmdepth_ros.evaluation.plots import mosaic, plot_errors, plot_trajectory
from rmdepth_ros.evaluation.session import Session
from rmdepth_ros.evaluation.skill import compare, verdicts
from rmdepth_ros.evaluation.timing import throughput

_HEADER = ('AbsRel', 'SqRel', 'RMSE', 'RMSlog', 'd1', 'd2', 'd3')


def depth_table(row: dict[str, float]) -> str:
    """The paper's table format: | AbsRel | SqRel | RMSE | RMSlog | d1 | d2 | d3 |."""
    head = '| ' + ' | '.join(_HEADER) + ' |'
    rule = '|' + '|'.join('---:' for _ in _HEADER) + '|'
    values = '| ' + ' | '.join(f'{row[key]:.4f}' if key.startswith('a') else f'{row[key]:.3f}'
                               for key in DEPTH_METRICS) + ' |'
    return '\n'.join([head, rule, values])


def build_summary(session: Session, info: dict) -> dict:
    """metrics.json content: run info, scorer summary, throughput."""
    summary = dict(info)
    summary['mode'] = session.mode
    summary.update(session.scorer.summary())
    summary['wall_s'] = session.wall_s
    summary['throughput_fps'] = throughput(session.scorer.outputs['depth'], session.wall_s)
    summary['notes'] = list(session.notes)
    if session.baselines is not None:
        summary['baselines'] = session.baselines.summary()
        summary['comparison'] = compare(summary, summary['baselines'])
        summary['verdict'] = verdicts(summary['comparison'])
    return summary


def comparison_table(rows: list[dict]) -> list[str]:
    """Markdown lines: | metric | system | baseline | baseline's value | skill |."""
    lines = ['| metric | system | baseline | its value | skill |', '|---|---:|---|---:|---:|']
    for r in rows:
        lines.append(f"| {r['label']} | {r['system']:.4g} | {r['baseline_label']} | "
                     f"{r['value']:.4g} | {r['skill']:.2f} |")
    return lines


def _fmt(value: object) -> str:
    return f'{value:.4g}' if isinstance(value, float) else str(value)


def write_report(session: Session, out_dir: Path, info: dict) -> dict:
    """Write metrics.json, the plots and report.md into out_dir; returns the summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = build_summary(session, info)
    plots = {'errors': plot_errors(session.scorer.frames, out_dir / 'errors_over_time.png'),
             'samples': mosaic(session.samples, out_dir / 'samples.png')}
    pair = session.scorer.trajectories()
    if pair is not None and len(pair[0]) >= 3:
        plots['trajectory'] = plot_trajectory(*pair, out_dir / 'trajectory.png')
    summary['plots'] = {name: path.name for name, path in plots.items()}
    (out_dir / 'metrics.json').write_text(json.dumps(summary, indent=2, default=str))
    (out_dir / 'report.md').write_text(markdown_report(summary))
    return summary


def markdown_report(s: dict) -> str:
    """report.md from a summary (`build_summary` plus 'plots')."""
    lines = ['# rmdepth_ros evaluation report', '']
    for note in s.get('notes', []):
        lines += [f'> **{note}**', '']
    lines += ['| item | value |', '|---|---|']
    for key in ('input', 'mode', 'playback', 'weights', 'inputs', 'wall_s', 'throughput_fps'):
        if key in s:
            lines.append(f'| {key} | {_fmt(s[key])} |')
    lines.append(f"| outputs per kind | {s['outputs']} |")
    lines.append('')
    if 'depth' in s:
        d = s['depth']
        lines += [f"## Depth ({d['images']} images, cap {d['max_depth_m']:g} m, crop "
                  f"{d['crop'] or 'none'})", '', 'Median-scaled (median scale '
                  f"{d['median_scale']:.3f}):", '', depth_table(d['median_scaled']), '',
                  'Unscaled (the published metric scale):', '', depth_table(d['unscaled']), '']
    for family, title in (('trajectory', 'Trajectory (metres; ATE after sim(3) alignment, '
                                         'RPE per frame with that scale, rotation in degrees, '
                                         '5-frame snippet ATE)'),
                          ('flow', 'Optical flow'), ('motion_mask', 'Moving-object mask'),
                          ('latency', 'Latency')):
        if family in s:
            lines += [f'## {title}', '', '| metric | value |', '|---|---:|']
            lines += [f'| {k} | {_fmt(v)} |' for k, v in s[family].items()]
            lines.append('')
    if s.get('comparison'):
        lines += ['## Against baselines (skill = system error / baseline error, < 1 = better)',
                  '', *comparison_table(s['comparison']), '']
        lines += [f'- {sentence}' for sentence in s['verdict']]
        lines.append('')
    if s['skipped']:
        lines += ['## Skipped', '']
        lines += [f'- {family}: {reason}' for family, reason in s['skipped'].items()]
        lines.append('')
    lines += ['## Plots', '']
    lines += [f'![{name}]({file})' for name, file in s.get('plots', {}).items()]
    return '\n'.join(lines) + '\n'
