"""Every training config in training/configs/ still builds and fits its starting weights, the
documented fine-tuning command trains, and a run that starts from a weights file takes its
architecture from that file (rmdepth_training.starting_weights)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from rmdepth_training.cli import main as cli_main
from rmdepth_training.config import ConfigError, build_config, load_config, save_config
from rmdepth_training.starting_weights import CHANGEABLE, weights_architecture
import torch
import yaml

from rmdepth_ros.datasets.sequence import Frame
from rmdepth_ros.model.config import TINY
from rmdepth_ros.model.weights import DEFAULT_WEIGHTS

REPO = Path(__file__).resolve().parent.parent
CONFIGS = sorted((REPO / 'training' / 'configs').glob('*.yaml'))


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.name)
def test_every_config_builds_and_fits_its_starting_weights(path: Path,
                                                           monkeypatch: pytest.MonkeyPatch):
    """Paths in the configs are relative to the repository. Weights that are the output of an
    earlier run of the recorded lineage (runs/...) are not in the repository: those configs
    are checked against the shipped weights, their descendant."""
    monkeypatch.chdir(REPO)
    raw = yaml.safe_load(path.read_text())
    overrides = []
    if raw.get('data', {}).get('kind') == 'bag':
        overrides.append('data.bags=[some.mcap]')  # the user's own bags
    init = raw.get('init_weights', '')
    if init and not Path(init).is_file():
        assert init.startswith('runs/'), f'{path.name}: init_weights {init} is missing'
        overrides.append(f'init_weights={DEFAULT_WEIGHTS}')
    cfg = build_config(path, overrides)
    if cfg.init_weights:
        start = weights_architecture(cfg.init_weights)
        given = raw.get('model', {})
        assert set(given) <= set(CHANGEABLE), path.name
        for field in dataclasses.fields(start):  # the rest comes from the weights file
            if field.name not in given:
                assert getattr(cfg.model, field.name) == getattr(start, field.name), field.name


def test_a_full_model_section_is_taken_as_it_is(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A saved resolved config (resume) lists every key and reads no weights file."""
    monkeypatch.chdir(REPO)
    cfg = build_config(REPO / 'training' / 'configs' / 'bag.yaml', ['data.bags=[b.mcap]'])
    saved = tmp_path / 'config.yaml'
    save_config(dataclasses.replace(cfg, init_weights=str(tmp_path / 'gone.safetensors')),
                saved)
    assert load_config(saved).model == cfg.model


def test_the_model_section_may_change_only_what_keeps_the_starting_function(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    base = ['data.bags=[b.mcap]']
    bag = REPO / 'training' / 'configs' / 'bag.yaml'
    light = build_config(bag, base + ['model.iterations=[3,1,1]'])
    assert light.model.iterations == (3, 1, 1)
    assert light.model.hidden_channels == weights_architecture(DEFAULT_WEIGHTS).hidden_channels
    with pytest.raises(ConfigError) as error:
        build_config(bag, base + ['model.head_channels=16'])
    message = str(error.value)
    assert 'model.head_channels=16 (the weights: 32)' in message and '\n' not in message
    assert 'Remove the other keys from the model section' in message
    with pytest.raises(ConfigError, match='pose_coords false would drop'):
        build_config(bag, base + ['model.pose_coords=false'])
    with pytest.raises(ConfigError, match='init_weights: weights file not found: nope'):
        build_config(bag, base + ['init_weights=nope.safetensors'])


def test_the_documented_bag_fine_tuning_trains_a_step(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture) -> None:
    """README: rmdepth-train train --config training/configs/bag.yaml "data.bags=[BAG]", here
    with one step of batch 2 on a small synthetic bag."""
    from rmdepth_ros.bags.writer import write_bag
    from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

    monkeypatch.chdir(REPO)
    torch.set_num_threads(1)
    frames = [Frame(image=f.image, intrinsics=f.intrinsics, timestamp=f.timestamp) for f in
              SyntheticSequence(SynthConfig(width=192, height=64, frames=5, seed=11))]
    bag = write_bag(frames, tmp_path / 'bag')
    status = cli_main(['train', '--config', 'training/configs/bag.yaml', f'data.bags=[{bag}]',
                       f'out_dir={tmp_path}', 'device=cpu', 'threads=1', 'optim.max_steps=1',
                       'optim.batch_size=2', 'data.num_workers=0', 'log.progress=false',
                       'log.image_every=0', 'data.val_sequences=0'])
    out, err = capsys.readouterr()
    assert status == 0, err
    summary = json.loads(out[out.index('\n{') + 1:])
    assert summary['step'] == 1
    assert load_config(tmp_path / 'bag_finetune' / 'config.yaml').model == weights_architecture(
        DEFAULT_WEIGHTS)


def test_a_tiny_model_section_refuses_the_shipped_weights(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(REPO)
    overrides = [f'model.{key}={json.dumps(list(v) if isinstance(v, tuple) else v)}'
                 for key, v in dataclasses.asdict(TINY).items()]
    with pytest.raises(ConfigError):  # every key given: taken as it is, refused by train()
        from rmdepth_training.train import train

        train(build_config(REPO / 'training' / 'configs' / 'bag.yaml',
                           ['data.bags=[b.mcap]', 'device=cpu'] + overrides))
