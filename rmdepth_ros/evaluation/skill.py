"""The system against the baselines: a skill per metric and a plain sentence per output.

skill = system error / baseline error: below 1 the system is better, above 1 the baseline is.
Every compared figure is an error (lower is better); a mask's IoU enters as 1 - IoU.
"""

from __future__ import annotations

import math

import numpy as np

from rmdepth_ros.evaluation.baselines.runner import BASELINES

#: (family, key, label) of every compared error; the first of each family decides the sentence.
COMPARED = (
    ('depth', 'abs_rel', 'depth AbsRel (median-scaled)'),
    ('depth', 'rmse', 'depth RMSE (m, median-scaled)'),
    ('trajectory', 'snippet_ate_mean', '5-frame snippet ATE (m)'),
    ('trajectory', 'ate_rmse', 'ATE after sim(3) (m)'),
    ('trajectory', 'rpe_trans_per_m', 'RPE translation per metre'),
    ('trajectory', 'rpe_rot_mean', 'RPE rotation (deg/frame)'),
    ('trajectory', 'yaw_sum_err_deg', 'summed-yaw error (deg)'),
    ('flow', 'epe', 'flow EPE (px)'),
    ('flow', 'fl_all', 'flow Fl-all'),
    ('motion_mask', 'mask_error', 'mask 1 - IoU'),
    ('motion_mask', 'moving_fraction_static', 'marked moving where nothing moves'),
)
TIE = 0.005  # |skill - 1| below this is a tie (it prints as 1.00)
FAMILY_NAMES = {'depth': 'depth', 'trajectory': 'camera motion', 'flow': 'flow',
                'motion_mask': 'masks'}


def family_errors(summary: dict, family: str) -> dict[str, float]:
    """The compared errors of one family of a Scorer summary (missing ones left out)."""
    row = summary.get(family)
    if row is None:
        return {}
    if family == 'depth':
        row = row['median_scaled']
    values = dict(row)
    if family == 'motion_mask':
        values = {'mask_error': 1.0 - row['iou']} if 'iou' in row else {}
        if 'moving_fraction_static' in row:
            values['moving_fraction_static'] = row['moving_fraction_static']
    return {k: float(v) for k, v in values.items() if isinstance(v, (int, float))}


def skill(system: float, baseline: float) -> float:
    """system / baseline; inf when only the baseline is perfect, 1 when both are."""
    if baseline == 0:
        return 1.0 if system == 0 else math.inf
    return system / baseline


def compare(system: dict, baselines: dict[str, dict]) -> list[dict]:
    """Rows {family, metric, label, system, baseline, baseline_label, value, skill} for every
    compared error that both the system and a baseline have."""
    rows = []
    for family, key, label in COMPARED:
        mine = family_errors(system, family).get(key)
        if mine is None:
            continue
        for name, summary in baselines.items():
            if name == 'all_static' and key == 'moving_fraction_static':
                theirs = 0.0  # by construction
            else:
                theirs = family_errors(summary, family).get(key)
            if theirs is None:
                continue
            rows.append({'family': family, 'metric': key, 'label': label, 'system': mine,
                         'baseline': name, 'baseline_label': BASELINES[name][1],
                         'value': theirs, 'skill': skill(mine, theirs)})
    return rows


def average_rows(row_lists: list[list[dict]]) -> list[dict]:
    """`compare` rows of several sequences -> one row per (metric, baseline): the mean system
    and baseline values over the sequences that have it (`sequences`), skill recomputed."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for rows in row_lists:
        for row in rows:
            groups.setdefault((row['metric'], row['baseline']), []).append(row)
    result = []
    for rows in groups.values():
        row = dict(rows[0], system=float(np.mean([r['system'] for r in rows])),
                   value=float(np.mean([r['value'] for r in rows])), sequences=len(rows))
        row['skill'] = skill(row['system'], row['value'])
        result.append(row)
    return result


def verdicts(rows: list[dict]) -> list[str]:
    """One plain sentence per output family, judged on its first compared error."""
    sentences = []
    for family, name in FAMILY_NAMES.items():
        primary = next((key for fam, key, _ in COMPARED if fam == family
                        and any(r['family'] == fam and r['metric'] == key for r in rows)), None)
        if primary is None:
            continue
        chosen = [r for r in rows if r['family'] == family and r['metric'] == primary]
        label = chosen[0]['label']
        groups: dict[str, list[str]] = {'beats': [], 'ties': [], 'loses': []}
        for r in chosen:
            verdict = ('ties' if abs(r['skill'] - 1.0) < TIE else
                       'beats' if r['skill'] < 1.0 else 'loses')
            groups[verdict].append(f"{r['baseline_label']} ({r['skill']:.2f})")
        beats, ties, loses = groups['beats'], groups['ties'], groups['loses']
        if beats and not ties and not loses:
            text = f"beats every baseline: {', '.join(beats)}"
        elif not beats:
            text = 'beats no baseline (' + '; '.join(
                ([f"ties with {', '.join(ties)}"] if ties else [])
                + ([f"loses to {', '.join(loses)}"] if loses else [])) + ')'
        else:
            text = '; '.join([f"beats {', '.join(beats)}"]
                             + ([f"ties with {', '.join(ties)}"] if ties else [])
                             + ([f"does not beat {', '.join(loses)}"] if loses else []))
        sentences.append(f'{name.capitalize()} ({label}, skill in brackets): the system {text}.')
    return sentences
