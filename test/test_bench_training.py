"""bench/bench_training.py on a TINY config: one step per variant, the output's structure.

Timings are not asserted (the machine is shared); what is checked is that every variant runs the
real training step at its own settings and that the result says so.
"""

import dataclasses
import importlib.util
import json
from pathlib import Path
import sys

import pytest

from rmdepth_ros.model.config import TINY

BENCH = Path(__file__).resolve().parents[1] / 'bench' / 'bench_training.py'
KITTI = Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'kitti_odometry_07'
TINY_OVERRIDES = [f'model.{key}={json.dumps(list(value) if isinstance(value, tuple) else value)}'
                  for key, value in dataclasses.asdict(TINY).items()]
OVERRIDES = TINY_OVERRIDES + ['data.width=64', 'data.height=32', 'data.synth_frames=3',
                              'optim.batch_size=2', 'threads=1', 'loss.supervised=1.0',
                              'data.num_workers=0']


def _bench():
    spec = importlib.util.spec_from_file_location('bench_training', BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_variant_runs_one_timed_step_and_is_reported():
    bench = _bench()
    variants = ['baseline', 'iters=1,1,1', 'res=64x48', 'channels_last', 'threads=2',
                'workers=0']
    result = bench.run_benchmark(None, OVERRIDES, variants, warmup=0, repeats=1,
                                 loader_workers=(0,), loader_batches=1, prepared=1,
                                 kitti=KITTI if KITTI.is_dir() else None)
    json.dumps(result)  # the --json line
    assert result['rounds'] == 1
    assert result['baseline']['size'] == '64x32' and result['baseline']['supervised'] == 1.0
    rows = {row['variant']: row for row in result['variants']}
    assert list(rows) == variants
    for row in rows.values():
        assert 'error' not in row, row
        assert row['s_per_step'] > 0 and row['cpu_s_per_step'] >= 0
        assert row['samples_per_s'] == pytest.approx(2 / row['s_per_step'])
    assert rows['baseline']['ratio'] == 1.0
    assert rows['res=64x48']['size'] == '64x48'
    assert rows['threads=2']['threads'] == 2 and rows['baseline']['threads'] == 1
    sources = {row['source'] for row in result['loader']}
    assert sources == ({'synthetic', 'kitti_07'} if KITTI.is_dir() else {'synthetic'})
    assert all(row['s_per_batch'] > 0 and row['workers'] == 0 for row in result['loader'])
    assert len(result['load_start']) == 3 and len(result['load_end']) == 3


def test_variant_specs_are_checked():
    bench = _bench()
    assert bench.parse_variant('iters=3,1,1').overrides == ['model.iterations=[3,1,1]']
    assert bench.parse_variant('workers=2').workers == 2
    assert bench.parse_variant('batch=8').overrides == ['optim.batch_size=8']
    with pytest.raises(ValueError, match="unknown variant 'res=big'"):
        bench.parse_variant('res=big')
    with pytest.raises(SystemExit):
        bench.main(['--variants', 'turbo'])
