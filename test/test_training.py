"""The training package: config checking, data pipeline, overfitting, exact resume, DDP, export.

Everything runs on the CPU with the TINY architecture at 64x32 on the synthetic world.
"""

import dataclasses
import json
import os
from pathlib import Path
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from rmdepth_training.augment import augment, flip_intrinsics
from rmdepth_training.cli import main as cli_main
from rmdepth_training.config import (
    AugmentConfig,
    ConfigError,
    DataConfig,
    LogConfig,
    LossConfig,
    OptimConfig,
    TrainConfig,
    build_config,
    load_config,
    save_config,
)
from rmdepth_training.criterion import compute_losses
from rmdepth_training.datasets import (
    TRAIN_SEED_OFFSET,
    BagTriplets,
    SyntheticTriplets,
    TrainStream,
    build_train_loader,
    validation_sequences,
)
from rmdepth_training.export import export
from rmdepth_training.train import train
from rmdepth_training.training_model import TrainingModel
import torch

from rmdepth_ros.datasets.sequence import Frame
from rmdepth_ros.inference import Estimator
from rmdepth_ros.model.config import TINY
from rmdepth_ros.model.rmdepth import RMDepth
from rmdepth_ros.model.weights import read_metadata

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / 'training' / 'configs'
TINY_OVERRIDES = [f'model.{key}={json.dumps(list(value) if isinstance(value, tuple) else value)}'
                  for key, value in dataclasses.asdict(TINY).items()]

torch.set_num_threads(1)


def tiny_config(tmp_path: Path, **changes) -> TrainConfig:
    """A TINY-architecture run at 64x32 that trains a step in well under a second."""
    cfg = TrainConfig(
        name='tiny', out_dir=str(tmp_path), seed=3, device='cpu', threads=1, model=TINY,
        data=DataConfig(width=64, height=32, synth_frames=4, num_workers=0, val_sequences=0,
                        epoch_samples=1000),
        optim=OptimConfig(lr=1e-3, batch_size=4, max_steps=6, lr_milestones=()),
        loss=LossConfig(object_burn_in=2, object_ramp=2),
        log=LogConfig(log_every=1, image_every=0, checkpoint_every=3, progress=False))
    for key, value in changes.items():
        section, _, name = key.partition('__')
        if name:
            setattr(cfg, section, dataclasses.replace(getattr(cfg, section), **{name: value}))
        else:
            setattr(cfg, key, value)
    return cfg


# -- configuration -------------------------------------------------------------------------------

def test_config_defaults_yaml_and_overrides(tmp_path):
    # (init_weights cleared: its runs/ file is not in the repository; test_training_configs.py)
    cfg = build_config(CONFIGS / 'cpu_synthetic.yaml', ['optim.lr=3e-4', 'data.width=128',
                                                        'loss.automask=false', 'init_weights='])
    assert cfg.optim.lr == 3e-4 and isinstance(cfg.optim.lr, float)
    assert cfg.data.width == 128 and cfg.loss.automask is False
    assert cfg.model == RMDepth(cfg.model).config  # the architecture dataclass itself
    tiny = build_config(None, TINY_OVERRIDES)
    assert tiny.model == TINY
    # The resolved config round-trips through the YAML written beside checkpoints.
    save_config(cfg, tmp_path / 'c.yaml')
    assert load_config(tmp_path / 'c.yaml') == cfg


@pytest.mark.parametrize('override, message', [
    ('optim.lrr=1e-4', "unknown config key 'optim.lrr' (did you mean 'optim.lr'?)"),
    ('optim.batch_size=four', "config key 'optim.batch_size': expected int, got 'four'"),
    ('loss.automask=maybe', "config key 'loss.automask': expected bool, got 'maybe'"),
    ('model.iterations=[9,2]', "config key 'model.iterations': expected 3 values"),
    ('data.kind=imagenet', "config key 'data.kind': must be one of synthetic, kitti"),
    ('data.synth_motion=spin', "config key 'data.synth_motion': must be one of drive, diverse"),
    ('data.width=100', 'must be multiples of 8'),
    ('lr', "override 'lr' is not of the form key=value"),
])
def test_config_errors_are_one_clear_line(override, message):
    with pytest.raises(ConfigError) as error:
        build_config(None, [override])
    assert message in str(error.value)
    assert '\n' not in str(error.value)


def test_cli_reports_config_errors_on_one_line(capsys):
    assert cli_main(['train', 'optim.lrr=1']) == 2
    err = capsys.readouterr().err.strip()
    assert err == "rmdepth-train: error: unknown config key 'optim.lrr' (did you mean 'optim.lr'?)"
    assert cli_main(['train', '--config', 'missing.yaml']) == 2


# -- data ----------------------------------------------------------------------------------------

def test_batches_have_the_documented_keys_and_are_reproducible(tmp_path):
    cfg = tiny_config(tmp_path)
    loader, source = build_train_loader(cfg, start_step=0)
    batch = next(iter(loader))
    assert batch['images'].shape == (4, 3, 3, 32, 64)
    assert batch['images_aug'].shape == (4, 3, 3, 32, 64)
    assert batch['K'].shape == (4, 3, 3) and batch['index'].tolist() == [0, 1, 2, 3]
    assert 0 <= batch['images'].min() and batch['images'].max() <= 1
    # Sample n is a pure function of (seed, n): a loader started at step 1 agrees.
    later = next(iter(build_train_loader(cfg, start_step=1)[0]))
    stream = TrainStream(source, cfg.data, cfg.augment, cfg.seed)
    assert torch.equal(later['images'][0], stream[4]['images'])
    assert not torch.equal(stream[4]['images'], stream[5]['images'])


def test_training_seeds_are_disjoint_from_held_out_seeds(monkeypatch):
    seen = []
    import rmdepth_ros.synth.sequence as synthetic

    original = synthetic.SyntheticSequence

    motions = []

    def recording(config):
        seen.append(config.seed)
        motions.append(config.motion)
        return original(config)

    monkeypatch.setattr(synthetic, 'SyntheticSequence', recording)
    source = SyntheticTriplets(DataConfig(width=32, height=16, synth_frames=3))
    for n in range(5):
        source.triplet(n, np.random.default_rng([0, 1, n]))
    assert min(seen) >= TRAIN_SEED_OFFSET and len(set(seen)) == 5
    assert set(motions) == {'drive'}  # the default
    turning = SyntheticTriplets(DataConfig(width=32, height=16, synth_frames=3,
                                           synth_motion='turn'))
    turning.triplet(0, np.random.default_rng(0))
    assert motions[-1] == 'turn' and "motion 'turn'" in turning.description
    held_out = [seq.config.seed for seq in validation_sequences(32, 16, 3, 2)]
    assert max(held_out) < TRAIN_SEED_OFFSET


def test_flip_keeps_intrinsics_consistent_and_jitter_spares_the_loss_images():
    K = np.array([[50.0, 0.0, 20.0], [0.0, 50.0, 10.0], [0.0, 0.0, 1.0]])
    flipped = flip_intrinsics(K, 64)
    assert flipped[0, 2] == 43.0 and flipped[1, 2] == 10.0 and flipped[0, 0] == 50.0
    images = np.random.default_rng(0).random((3, 8, 16, 3)).astype(np.float32)
    cfg = AugmentConfig(flip_prob=1.0, jitter_prob=1.0)
    plain, network, K2, flipped = augment(images, K, cfg, np.random.default_rng(1))
    assert flipped
    assert np.array_equal(plain, images[:, :, ::-1])  # flipped, not jittered
    assert not np.allclose(network, plain) and network.min() >= 0 and network.max() <= 1
    assert K2[0, 2] == 16 - 1 - 20.0


def test_bag_triplets_skip_near_static_frames(tmp_path):
    from rmdepth_ros.bags.writer import write_bag
    from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

    moving = list(SyntheticSequence(SynthConfig(width=64, height=32, frames=4, seed=7)))
    # Frames 0-3 moving, then the camera stands still for three frames.
    frames = moving + [dataclasses.replace(moving[-1], timestamp=moving[-1].timestamp + 0.1 * k)
                       for k in (1, 2, 3)]
    frames = [Frame(image=f.image, intrinsics=f.intrinsics, timestamp=f.timestamp)
              for f in frames]
    bag = write_bag(frames, tmp_path / 'bag')
    source = BagTriplets((str(bag),), '', '', frame_step=1, static_threshold=0.01)
    assert [index for _, index in source.items] == [1, 2]
    images, K = source.triplet(0, np.random.default_rng(0))
    assert len(images) == 3 and images[0].shape == (32, 64, 3)
    assert np.allclose(K, moving[0].intrinsics)


# -- learning ------------------------------------------------------------------------------------

def test_a_few_dozen_steps_overfit_a_tiny_synthetic_set(tmp_path):
    # No auto-masking: the gradient-free identity errors would only set a floor under the loss.
    cfg = tiny_config(tmp_path, augment=AugmentConfig(flip_prob=0, jitter_prob=0),
                      loss__automask=False)
    loader, _ = build_train_loader(cfg, start_step=0)
    batch = next(iter(loader))  # the same 4 triplets every step
    torch.manual_seed(0)
    net = TrainingModel(RMDepth(TINY))
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    losses = []
    for _ in range(40):
        outputs = net(batch['images_aug'], batch['K'], object_motion_scale=0.0)
        result = compute_losses(outputs, batch['images'], batch['K'], cfg.loss, TINY.min_depth,
                                TINY.max_depth, 0.0)
        optimizer.zero_grad()
        result.total.backward()
        optimizer.step()
        losses.append(result.total.item())
    # The synthetic renderer's aliasing leaves ~0.03 even for the true depth and motion at this
    # size, so a 30 % drop from ~0.05 is most of the reachable range.
    assert np.mean(losses[-5:]) < 0.7 * losses[0], losses


def test_resume_is_exact(tmp_path):
    full = train(tiny_config(tmp_path, name='full'))
    assert len(full['losses']) == 6
    first = train(tiny_config(tmp_path, name='split', optim__max_steps=3))
    resumed = train(tiny_config(tmp_path, name='split'), resume=True)
    assert first['losses'] == full['losses'][:3]
    assert resumed['losses'] == full['losses'][3:]  # bit for bit
    assert (tmp_path / 'split' / 'checkpoints' / 'step_0000006.yaml').is_file()
    with pytest.raises(ConfigError, match='already has checkpoints'):
        train(tiny_config(tmp_path, name='split'))


def test_a_spent_time_budget_stops_the_run_with_a_checkpoint_it_resumes_from(tmp_path, capsys):
    # A budget far below one step's time: the run stops after its first step, saves a
    # checkpoint there and says how to continue; the resumed run ends where a plain one does.
    full = train(tiny_config(tmp_path, name='full'))
    first = train(tiny_config(tmp_path, name='budget', optim__max_minutes=1e-9))
    assert first['step'] == 1 and first['stopped_by_budget']
    assert 'optim.max_minutes' in capsys.readouterr().out
    assert (tmp_path / 'budget' / 'checkpoints' / 'step_0000001.pt').is_file()
    rest = train(tiny_config(tmp_path, name='budget'), resume=True)
    assert rest['step'] == 6 and not rest['stopped_by_budget']
    assert first['losses'] + rest['losses'] == full['losses']
    with pytest.raises(ConfigError, match='max_minutes'):
        build_config(None, ['optim.max_minutes=-1'])


def test_resume_takes_the_schedule_from_the_config(tmp_path):
    # A run started without milestones and resumed with one decays at that step.
    train(tiny_config(tmp_path, name='sched', optim__max_steps=3))
    resumed = train(tiny_config(tmp_path, name='sched', optim__max_steps=6,
                                optim__lr_milestones=(4,), optim__lr_gamma=0.5), resume=True)
    assert resumed['step'] == 6
    state = torch.load(tmp_path / 'sched' / 'checkpoints' / 'step_0000006.pt',
                       weights_only=False)
    assert [g['lr'] for g in state['optimizer']['param_groups']][0] == pytest.approx(5e-4)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_two_process_ddp_on_cpu_agrees_with_one_process(tmp_path):
    # The pyramid encoder has no BatchNorm: with it, two processes of batch 2 must compute the
    # same averaged gradient as one process of batch 4 (BatchNorm statistics are per process
    # on the CPU; SyncBatchNorm is used on CUDA).
    overrides = TINY_OVERRIDES + [
        'model.encoder=pyramid', 'data.width=64', 'data.height=32', 'data.synth_frames=4',
        'data.num_workers=0', 'data.val_sequences=0', 'optim.batch_size=4', 'optim.max_steps=4',
        'optim.lr=1e-3', 'loss.object_burn_in=2', 'loss.object_ramp=1', 'log.log_every=1',
        'log.image_every=0', 'log.checkpoint_every=4', 'log.progress=false', 'threads=1',
        'device=cpu', 'seed=5', f'out_dir={tmp_path}']
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    command = [sys.executable, '-m', 'torch.distributed.run', '--nnodes=1', '--nproc_per_node=2',
               '--master_addr=127.0.0.1', f'--master_port={_free_port()}',
               '-m', 'rmdepth_training.cli', 'train', 'name=ddp', *overrides]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    single = train(build_config(None, overrides + ['name=single']))
    ddp_summary = json.loads((tmp_path / 'ddp' / 'summary.json').read_text())
    assert ddp_summary['step'] == 4
    assert ddp_summary['scalars']['loss'] == pytest.approx(single['scalars']['loss'], rel=1e-4)
    ddp_state = torch.load(tmp_path / 'ddp' / 'checkpoints' / 'step_0000004.pt',
                           weights_only=False)
    single_state = torch.load(tmp_path / 'single' / 'checkpoints' / 'step_0000004.pt',
                              weights_only=False)
    assert len(ddp_state['rng']) == 2
    # Same trajectory: measured against how far the weights moved from their initial values,
    # the two runs' weights differ by float rounding only (which Adam amplifies somewhat where
    # gradients are ~0, so compare all weights at once rather than tensor by tensor).
    torch.manual_seed(5)
    initial = RMDepth(build_config(None, overrides).model)  # as train() builds it
    start = initial.state_dict()
    names = [n for n, v in single_state['model'].items() if v.is_floating_point()]
    moved = torch.cat([(single_state['model'][n] - start[n]).flatten() for n in names]).norm()
    apart = torch.cat([(ddp_state['model'][n] - single_state['model'][n]).flatten()
                       for n in names]).norm()
    assert apart < 1e-3 * moved


def test_export_writes_weights_the_estimator_loads(tmp_path):
    cfg = tiny_config(tmp_path, optim__max_steps=2, log__checkpoint_every=2,
                      data=DataConfig(width=64, height=32, synth_frames=4, num_workers=0,
                                      val_sequences=1, val_frames=3, epoch_samples=1000))
    summary = train(cfg)
    assert summary['validation']['step'] == 2 and 'abs_rel' in summary['validation']
    out = tmp_path / 'exported.safetensors'
    assert cli_main(['export', str(tmp_path / 'tiny'), '--out', str(out)]) == 0
    meta = read_metadata(out)
    assert meta['input_size'] == (64, 32) and meta['config'] == TINY
    assert 'synthetic' in meta['trained_on'] and meta['license'] == 'Apache-2.0'
    assert 'abs_rel' in meta['notes'] and 'step 2' in meta['notes']
    estimator = Estimator(out, device='cpu')
    K = np.array([[40.0, 0.0, 31.5], [0.0, 60.0, 15.5], [0.0, 0.0, 1.0]])
    image = (np.random.default_rng(0).random((32, 64, 3)) * 255).astype(np.uint8)
    estimator.process(image, K, 0.0)
    second = estimator.process(image[:, ::-1].copy(), K, 0.1)
    assert second.motion is not None and np.isfinite(second.depth).all()
    # float16 storage halves the float32 file.
    result = export(tmp_path / 'tiny', tmp_path / 'fp32.safetensors', dtype='float32')
    assert out.stat().st_size < 0.6 * result['bytes']


def test_without_tensorboard_scalars_go_to_jsonl(tmp_path, monkeypatch, capsys):
    from rmdepth_training.logs import RunLogger

    monkeypatch.setitem(sys.modules, 'torch.utils.tensorboard', None)  # import fails
    logger = RunLogger(tmp_path)
    logger.scalars(5, {'loss': 0.25})
    logger.images(5, {'input': np.zeros((4, 4, 3), np.uint8)})  # skipped, no error
    logger.close()
    assert capsys.readouterr().err.count('tensorboard is not installed') == 1
    record = json.loads((tmp_path / 'scalars.jsonl').read_text().splitlines()[0])
    assert record['step'] == 5 and record['train/loss'] == 0.25


def test_metrics_on_known_answers():
    from rmdepth_ros.evaluation.metrics import depth_metrics, motion_errors, snippet_ate

    gt = np.linspace(2.0, 60.0, 200, dtype=np.float32).reshape(10, 20)
    gt[0, 0] = np.inf  # sky is ignored
    exact = depth_metrics(gt, 3.0 * gt)  # a global scale is removed by median scaling
    assert exact['abs_rel'] == pytest.approx(0, abs=1e-6) and exact['a1'] == 1.0
    # A fifth of the pixels twice too far: the median barely moves, those pixels fail delta.
    noisy = depth_metrics(gt, gt * np.where(np.arange(200).reshape(10, 20) % 5, 1.0, 2.0))
    assert noisy['abs_rel'] == pytest.approx(0.2, abs=0.05)
    assert noisy['a1'] == pytest.approx(0.8, abs=0.05)
    T = np.eye(4)
    T[:3, 3] = [0.1, 0.0, 1.2]
    errors = motion_errors(T @ np.diag([1, 1, 1, 1.0]), T)
    assert errors['rot_err_deg'] == 0 and errors['trans_err'] == pytest.approx(0, abs=1e-12)
    track = np.cumsum(np.tile([[0.0, 0.0, 1.2]], (5, 1)), axis=0) - [0.0, 0.0, 1.2]
    assert snippet_ate(track, 0.5 * track) == pytest.approx(0, abs=1e-12)
    assert snippet_ate(track, np.zeros_like(track)) > 1.0


def test_kitti_split_errors_name_the_line(tmp_path):
    from rmdepth_training.datasets import KittiTriplets

    from rmdepth_ros.datasets.sequence import DataError

    split = tmp_path / 'train_files.txt'
    split.write_text('2011_09_26/2011_09_26_drive_0001_sync five l\n')
    with pytest.raises(DataError, match=r'train_files.txt:1: expected'):
        KittiTriplets(str(tmp_path), str(split), frame_step=1)


def test_he_init_makes_the_pose_head_see_its_input():
    """With PyTorch's default init the pose output barely depends on the images (it learns a
    constant); with the model's own He init different image pairs give clearly different
    motion."""
    def spread(model: RMDepth) -> float:
        images = torch.rand(6, 2, 3, 32, 64, generator=torch.Generator().manual_seed(0))
        K = torch.tensor([[40.0, 0.0, 31.5], [0.0, 40.0, 15.5], [0.0, 0.0, 1.0]]).expand(6, 3, 3)
        with torch.no_grad():
            out = model.motion_net(images[:, 0], images[:, 1], torch.ones(6, 1, 32, 64), K, 0.0)
        pose = torch.cat([out['axisangle'], out['translation']], dim=1)  # (6, 6)
        return float(pose.std(0).mean() / pose.abs().mean())

    torch.manual_seed(0)
    model = RMDepth(TINY)
    he = spread(model)
    model.motion_net.reset_parameters('pytorch')
    pytorch = spread(model)
    assert he > 100 * pytorch  # measured: 0.26 vs 2e-4 relative spread
    with pytest.raises(ValueError, match="init scheme must be 'he' or 'pytorch'"):
        model.motion_net.reset_parameters('xavier')


def test_motion_network_can_learn_faster_than_the_depth_network():
    from rmdepth_training.step import param_groups

    from rmdepth_ros.model.config import TINY
    from rmdepth_ros.model.rmdepth import RMDepth

    model = RMDepth(TINY)
    plain = param_groups(model, 1e-4, 10.0)
    assert [g['lr'] for g in plain] == [1e-4, 1e-3]
    groups = param_groups(model, 1e-4, 10.0, motion_lr_scale=3.0)
    assert [g['lr'] for g in groups] == [1e-4, 1e-3, pytest.approx(3e-4)]
    ids = [{id(p) for p in g['params']} for g in groups]
    assert sum(len(i) for i in ids) == len(list(model.parameters()))
    assert ids[2] == {id(p) for p in model.motion_net.parameters()} - ids[1]


def test_random_aspect_batches_keep_the_pixel_budget_and_train(tmp_path):
    """augment.aspect_prob: one native-style size per batch, exact intrinsics and truth."""
    cfg = tiny_config(tmp_path, data__width=96, data__height=32,
                      augment=AugmentConfig(flip_prob=0, jitter_prob=0, aspect_prob=1.0,
                                            aspect_min=1.2, aspect_max=1.5))
    loader, source = build_train_loader(cfg, start_step=0)
    batch = next(iter(loader))
    height, width = batch['images'].shape[-2:]
    assert width % 8 == 0 and height % 8 == 0
    assert 1.1 < width / height < 1.7  # not the configured 3:1
    assert 0.75 < width * height / (96 * 32) < 1.33
    assert batch['gt_depth'].shape[-2:] == (height, width) and batch['gt_valid'].all()
    # A window of the batch's aspect is resized almost isotropically: fx / fy stays the
    # camera's (to the rounding to multiples of 8), the principal point moves with the window.
    plain = TrainStream(source, cfg.data, AugmentConfig(flip_prob=0, jitter_prob=0), cfg.seed)
    K0, K = plain[0]['K'].numpy(), batch['K'][0].numpy()
    assert K[0, 0] / K[1, 1] == pytest.approx(K0[0, 0] / K0[1, 1], rel=0.08)
    assert K[0, 0] > K0[0, 0] * width / 96  # a window narrower than the frame, magnified
    # The synthetic depth truth still sits under the image: the window of the truth matches
    # the window of the frames (every rendered pixel has depth, sky excepted).
    assert (batch['gt_depth'] > 0).float().mean() > 0.3
    # One optimiser step at this size runs and gives finite losses.
    net = TrainingModel(RMDepth(TINY))
    outputs = net(batch['images_aug'], batch['K'], object_motion_scale=0.0)
    result = compute_losses(outputs, batch['images'], batch['K'], cfg.loss, TINY.min_depth,
                            TINY.max_depth, 0.0)
    result.total.backward()
    assert torch.isfinite(result.total)
    # Off by default: the configured size.
    assert TrainConfig().augment.aspect_prob == 0.0


def test_ctrl_c_finishes_the_step_writes_a_checkpoint_and_resumes(tmp_path):
    # The whole process group gets SIGINT, as from a terminal (DataLoader workers included):
    # the run stops after the step in flight with a checkpoint of it, exit status 130, and
    # --resume continues from there.
    overrides = TINY_OVERRIDES + [
        'data.width=64', 'data.height=32', 'data.synth_frames=4', 'data.num_workers=2',
        'data.val_sequences=0', 'optim.batch_size=2', 'optim.max_steps=100000',
        'log.log_every=1', 'log.image_every=0', 'log.checkpoint_every=100000',
        'log.progress=false', 'threads=1', 'device=cpu', f'out_dir={tmp_path}']
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    run = subprocess.Popen([sys.executable, '-m', 'rmdepth_training.cli', 'train', 'name=int',
                            *overrides], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, start_new_session=True)
    scalars = tmp_path / 'int' / 'scalars.jsonl'
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and run.poll() is None:
            if scalars.is_file() and len(scalars.read_text().splitlines()) >= 3:
                break
            time.sleep(0.2)
        assert run.poll() is None, run.stdout.read()
        os.killpg(run.pid, signal.SIGINT)
        out, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 130, out[-3000:]
    assert 'Traceback' not in out
    saved = sorted((tmp_path / 'int' / 'checkpoints').glob('step_*.pt'))
    assert len(saved) == 1
    step = int(saved[0].stem.split('_')[1])
    assert f'interrupted at step {step} of 100000' in out and '--resume' in out
    assert json.loads((tmp_path / 'int' / 'summary.json').read_text())['interrupted']
    assert cli_main(['train', '--resume', str(tmp_path / 'int'),
                     f'optim.max_steps={step + 1}', 'data.num_workers=0']) == 0
    assert (tmp_path / 'int' / 'checkpoints' / f'step_{step + 1:07d}.pt').is_file()


def test_stop_request_turns_the_first_ctrl_c_into_a_flag_and_the_second_into_an_interrupt(
        capsys):
    # The handler is called as the interpreter would call it (a real SIGINT to this process
    # would also reach the signal handlers that rclpy installs in C when earlier tests of the
    # session used it; the subprocess test above sends real ones).
    from rmdepth_training.interrupt import StopRequest

    before = signal.getsignal(signal.SIGINT)
    with StopRequest('stopping soon') as stop:
        handler = signal.getsignal(signal.SIGINT)
        assert handler is not before
        handler(signal.SIGINT, None)
        assert stop.requested and 'stopping soon' in capsys.readouterr().out
        with pytest.raises(KeyboardInterrupt):
            handler(signal.SIGINT, None)
    assert signal.getsignal(signal.SIGINT) is before
