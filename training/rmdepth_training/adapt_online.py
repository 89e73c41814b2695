"""Online adaptation: a background thread that adapts the depth network to what the camera sees.

The estimator hands every processed frame (network input, intrinsics, reset flag and, with
depth_source 'fused', its fused depth on the same grid) to `OnlineAdapter.observe`, which costs
a copy of the image and the label (half precision). The label of a triplet's target frame
feeds the pseudo-label depth loss (`pseudo_labels`, weight `pseudo_depth`): what the node's own
depth filter measured teaches the network, with no extra pass over the frames. Consecutive
frames of one stream (no reset between them) form triplets; static ones are skipped
(`adapt_frames`), every `held_out_every`-th goes to a small ring of held-back triplets, the
others to a replay ring. Both rings are bounded, so memory is too.

The thread takes steps (`adapt_model.Adapter`: depth network only, the motion network frozen)
on random batches of the replay ring, sleeping between steps so that it computes at most
`budget` of the wall time. A share `replay` of every batch is a freshly rendered synthetic
triplet with its exact ground truth (supervised terms, as in training; about 45 ms of CPU per
192x64 triplet, inside the budget): adapting to one street alone forgets the others (issue 18:
DDAD AbsRel +9 %, synthetic x2 after 5 minutes without it). Every `validate_every` steps
it scores the candidate and the last good weights on the held-back ring (the same triplets,
eval mode; photometric error plus the weighted label term, `adapt_model.validation_score`):

- better: the candidate becomes the last good weights and is swapped into the estimator in
  one reference assignment (`model.depth_net = copy`), so a frame runs wholly on the old or
  wholly on the new weights and inference never waits for a lock;
- worse by more than `diverge_tolerance` (or a non-finite loss): revert to the last good
  weights, with a fresh optimiser;
- otherwise: keep training.

Backends: torch only (the ONNX Runtime / OpenVINO backends run ONNX files exported once at
start-up; re-exporting them is not implemented).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
import copy
import dataclasses
from dataclasses import dataclass
import json
from pathlib import Path
import threading
import time

import numpy as np
import torch
from torch.utils.data import default_collate

from rmdepth_ros.inference import GeometryLabel
from rmdepth_ros.model.rmdepth import RMDepth
from rmdepth_ros.model.weights import save_weights
from rmdepth_training.adapt_frames import STATIC_THRESHOLD, thumbnail
from rmdepth_training.adapt_model import Adapter, adaptation_config, validation_score
from rmdepth_training.augment import augment
from rmdepth_training.config import AugmentConfig
from rmdepth_training.datasets import SyntheticTriplets, TrainStream, training_sample
from rmdepth_training.pseudo_labels import kept_label, label_truth, pseudo_maps
from rmdepth_training.training_model import TrainingModel
from rmdepth_training.triplets import flip_truth, no_truth


@dataclass
class OnlineSettings:
    """budget: share of wall time the adaptation thread may compute (0-1). batch: triplets per
    step. lr: Adam learning rate. buffer: replay ring size (triplets). held_out: held-back
    ring size. held_out_every: every n-th new triplet is held back. validate_every: steps
    between validations. diverge_tolerance: relative validation loss increase that reverts.
    min_triplets: replay triplets needed before the first step. replay: share of every batch
    that is a fresh synthetic triplet with ground truth (0: the camera's frames only).
    anchor: pull back towards the starting weights after every step (`Adapter`; 0: none).
    pseudo_depth: weight of the depth loss on the estimator's own fused depth of the trained
    frame (`pseudo_labels`; the label rides along with the frame, no extra pass; 0: the
    photometric loss only, as without depth_source 'fused')."""

    budget: float = 0.25
    batch: int = 4
    lr: float = 3e-5
    buffer: int = 128
    held_out: int = 8
    held_out_every: int = 5
    validate_every: int = 10
    diverge_tolerance: float = 0.1
    min_triplets: int = 8
    static_threshold: float = STATIC_THRESHOLD
    motion: str = 'frozen'
    replay: float = 0.25
    anchor: float = 0.0
    pseudo_depth: float = 1.0
    seed: int = 0

    def synthetic_per_batch(self) -> int:
        """Synthetic triplets in each batch: round(batch x replay), at least one real."""
        if self.replay <= 0:
            return 0
        return min(self.batch - 1, max(1, round(self.batch * self.replay)))

    def check(self) -> None:
        if not 0 < self.budget <= 1:
            raise ValueError(f'adapt_budget must be in (0, 1], got {self.budget}')
        for name in ('batch', 'buffer', 'held_out', 'held_out_every', 'validate_every',
                     'min_triplets'):
            if getattr(self, name) < 1:
                raise ValueError(f'adapt_{name} must be at least 1, got {getattr(self, name)}')
        if not self.lr > 0 or not self.diverge_tolerance > 0:
            raise ValueError('adapt_lr and the divergence tolerance must be positive')
        if not self.pseudo_depth >= 0:
            raise ValueError(f'adapt_pseudo_depth must be >= 0, got {self.pseudo_depth}')
        if not 0 <= self.replay < 1:
            raise ValueError(f'adapt_replay must be in [0, 1), got {self.replay}')
        if self.replay > 0 and self.batch < 2:
            raise ValueError('adapt_replay needs adapt_batch of at least 2 (one synthetic '
                             'and one real triplet per step)')


@dataclass
class _Triplet:
    frames: np.ndarray  # (3, h, w, 3) uint8, (t - 1, t, t + 1) in stream order
    K: np.ndarray       # (3, 3) of the network-size frames
    label: tuple | None = None  # frame t's (depth, sigma) float16, moving bool, or None


class OnlineAdapter:
    """Adapts `model.depth_net` in place (by reference swaps) from observed frames.

    model: the estimator's model (torch backend); its depth_net attribute is replaced on every
    accepted update. device: where training runs. log: one-line messages (swaps, reverts).
    """

    def __init__(self, model: RMDepth, settings: OnlineSettings | None = None,
                 device: torch.device | str = 'cpu',
                 log: Callable[[str], None] | None = None) -> None:
        self.settings = settings or OnlineSettings()
        self.settings.check()
        self.model = model
        self.log = log or (lambda line: None)
        self._synthetic_count = self.settings.synthetic_per_batch()
        cfg = adaptation_config(lr=self.settings.lr,
                                supervised=1.0 if self._synthetic_count else 0.0,
                                pseudo_depth=self.settings.pseudo_depth)
        self.adapter = Adapter(model, cfg, 'depth', device, self.settings.motion,
                               self.settings.anchor)
        self._good = TrainingModel(copy.deepcopy(self.adapter.model),
                                   frozen_motion=self.settings.motion == 'frozen')
        self._augment = AugmentConfig()
        self._lock = threading.Lock()  # guards the rings and the frame history
        self._good_lock = threading.Lock()  # guards the last good weights (save vs accept)
        self._recent: deque = deque(maxlen=3)  # (frame, K) of the last frames of the stream
        self._train: deque[_Triplet] = deque(maxlen=self.settings.buffer)
        self._held: deque[_Triplet] = deque(maxlen=self.settings.held_out)
        self._triplets_seen = 0
        self._rng = np.random.default_rng(self.settings.seed)
        self._synthetic: TrainStream | None = None  # made at the first batch's frame size
        self._synthetic_drawn = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = {'steps': 0, 'swaps': 0, 'reverts': 0, 'static_skipped': 0,
                      'busy_s': 0.0, 'last_loss': float('nan'), 'good_val': float('nan'),
                      'synthetic_replayed': 0}
        self.losses: deque[float] = deque(maxlen=200)

    # -- the inference side ------------------------------------------------------------------

    def observe(self, image: torch.Tensor | np.ndarray, K: np.ndarray, reset: bool,
                label: GeometryLabel | None = None) -> None:
        """A processed frame: image (1, 3, h, w) float in [0, 1] or (h, w, 3) uint8 at the
        network size, K (3, 3) of it, reset True when it starts a new stream piece, label the
        estimator's fused depth of it on the same grid (None: no label)."""
        if isinstance(image, torch.Tensor):
            image = (image[0].permute(1, 2, 0).clamp(0, 1) * 255 + 0.5).byte().cpu().numpy()
        kept = None
        if label is not None and self.settings.pseudo_depth > 0:
            kept = kept_label(label)
        with self._lock:
            if reset:
                self._recent.clear()
            self._recent.append((image, np.asarray(K, np.float64), kept))
            if len(self._recent) < 3:
                return
            frames = np.stack([frame for frame, _, _ in self._recent])
            _, K_target, label_target = self._recent[1]
        self._add(_Triplet(frames, K_target, label_target))

    def _add(self, triplet: _Triplet) -> None:
        thumbs = [thumbnail(frame) for frame in triplet.frames]
        change = min(float(np.abs(thumbs[1] - thumbs[i]).mean()) for i in (0, 2))
        with self._lock:
            if change < self.settings.static_threshold:
                self.stats['static_skipped'] += 1
                return
            self._triplets_seen += 1
            if self._triplets_seen % self.settings.held_out_every == 0:
                self._held.append(triplet)
            else:
                self._train.append(triplet)

    # -- the thread --------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name='rmdepth_adaptation',
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._batch()
            if batch is None:
                self._stop.wait(0.2)
                continue
            began = time.perf_counter()
            self.step(batch)
            busy = time.perf_counter() - began
            self.stats['busy_s'] += busy
            # Duty cycle: compute `busy`, then rest so that busy / (busy + rest) = budget.
            self._stop.wait(busy * (1.0 - self.settings.budget) / self.settings.budget)

    def step(self, batch: dict) -> None:
        """One update, and every validate_every steps the validation (public for tests)."""
        try:
            loss = self.adapter.step(batch)
        except FloatingPointError as error:
            self._revert(f'non-finite loss ({error})')
            return
        self.stats['steps'] += 1
        self.stats['last_loss'] = loss
        self.losses.append(loss)
        if self.stats['steps'] % self.settings.validate_every == 0:
            self.validate()

    def validate(self) -> str:
        """Score candidate and last good weights on the held-back ring; accept, revert or
        keep training. Returns 'accepted', 'reverted', 'kept' or 'no held-back triplets'."""
        held = self._held_batch()
        if held is None:
            return 'no held-back triplets'
        candidate = self.adapter.score(held)
        good = self._score_good(held)
        self.stats['good_val'] = good
        if np.isfinite(candidate) and candidate < good:
            self._accept(candidate)
            return 'accepted'
        if not (np.isfinite(candidate)
                and candidate <= good * (1.0 + self.settings.diverge_tolerance)):
            self._revert(f'validation {candidate:.4f} vs last good {good:.4f}')
            return 'reverted'
        return 'kept'

    def _accept(self, score: float) -> None:
        state = self.adapter.state()
        fresh = copy.deepcopy(self.adapter.model.depth_net).to(
            next(self.model.parameters()).device).eval()
        for parameter in fresh.parameters():
            parameter.requires_grad_(False)
        with self._good_lock:
            self._good.model.load_state_dict(state)
            self.model.depth_net = fresh  # one reference assignment: the atomic swap
        self.stats['swaps'] += 1
        self.stats['good_val'] = score

    def _revert(self, why: str) -> None:
        self.adapter.restore(self._good.model.state_dict())
        self.stats['reverts'] += 1
        self.log(f'adaptation reverted to the last good weights: {why}')

    def _score_good(self, held: dict) -> float:
        return validation_score(self._good, held, self.adapter.cfg.loss, self.adapter.device)

    def save(self, path: str | Path, metadata: dict) -> str:
        """Write the last good weights (what the estimator runs) to `path` with their lineage;
        returns the model id. metadata: the starting weights' (`load_weights`)."""
        with self._good_lock:  # the estimator's model: swapped-in depth, its own motion net
            model = copy.deepcopy(self.model).cpu()
        stats = dict(self.stats)
        start = Path(str(metadata.get('path', 'the shipped weights'))).name
        trained_on = (f'adapted online by rmdepth_node ({stats["swaps"]} accepted updates, '
                      f'{stats["steps"]} steps x batch {self.settings.batch} on recent frames '
                      f'of its camera; depth network only, motion network frozen); started '
                      f'from {start} ({metadata.get("model_id", "?")}) '
                      f'[{metadata.get("trained_on", "")}]')
        notes = json.dumps({'online_adaptation': {**stats, **dataclasses.asdict(self.settings)},
                            'start_model_id': metadata.get('model_id')})
        path = Path(path)
        tmp = path.with_name(path.name + '.tmp')
        digest = save_weights(tmp, model, model.config,
                              tuple(metadata.get('input_size', (640, 192))),
                              trained_on=trained_on,
                              license=f'{metadata.get("license", "?")}; adapted on video whose '
                                      "terms are set by the video's owner",
                              scale=metadata.get('scale'), notes=notes, dtype=torch.float32)
        tmp.replace(path)
        return digest[:12]

    # -- batches -----------------------------------------------------------------------------

    def _batch(self) -> dict | None:
        real = self.settings.batch - self._synthetic_count
        with self._lock:
            if len(self._train) < self.settings.min_triplets:
                return None
            picks = self._rng.choice(len(self._train), size=real,
                                     replace=len(self._train) < real)
            chosen = [self._train[i] for i in picks]
        first = self.stats['steps'] * self.settings.batch
        samples = []
        for n, triplet in enumerate(chosen):
            frames = triplet.frames.astype(np.float32) / 255.0
            plain, network, K, flipped = augment(frames, triplet.K, self._augment, self._rng)
            truth = self._truth(triplet)
            if flipped:
                truth = flip_truth(truth)
            samples.append(training_sample(plain, network, K, first + n, truth))
        height, width = chosen[0].frames.shape[1:3]
        samples += [self._synthetic_sample(width, height) for _ in range(self._synthetic_count)]
        return default_collate(samples)

    def _synthetic_sample(self, width: int, height: int) -> dict[str, torch.Tensor]:
        """A fresh synthetic triplet at the camera's network size, with its ground truth."""
        if self._synthetic is None or self._synthetic.data.width != width \
                or self._synthetic.data.height != height:
            # the camera motions the shipped weights were trained on ('diverse')
            data = dataclasses.replace(self.adapter.cfg.data, width=width, height=height,
                                       synth_frames=3, synth_motion='diverse')
            self._synthetic = TrainStream(SyntheticTriplets(data), data, self._augment,
                                          self.settings.seed)
        sample = self._synthetic[self._synthetic_drawn]  # (renderer warnings silenced there)
        self._synthetic_drawn += 1
        self.stats['synthetic_replayed'] += 1
        return sample

    def _held_batch(self) -> dict | None:
        with self._lock:
            held = list(self._held)
        if not held:
            return None
        samples = []
        for n, triplet in enumerate(held):
            frames = triplet.frames.astype(np.float32) / 255.0
            samples.append(training_sample(frames, frames, triplet.K, n,
                                           self._truth(triplet)))
        return default_collate(samples)

    @staticmethod
    def _truth(triplet: _Triplet) -> dict[str, np.ndarray]:
        """No ground truth; the target frame's pseudo-label where it has one."""
        height, width = triplet.frames.shape[1:3]
        if triplet.label is None:
            return no_truth(height, width)
        return label_truth(height, width, pseudo_maps(*triplet.label))

    def diagnostics(self) -> dict[str, str]:
        """Key-value strings for /diagnostics: steps, swaps, reverts, loss trend."""
        losses = list(self.losses)
        half = len(losses) // 2
        trend = (f'{np.mean(losses[:half]):.4f} -> {np.mean(losses[half:]):.4f}'
                 if half >= 1 else 'n/a')
        with self._lock:
            buffered, held = len(self._train), len(self._held)
        return {'adapt_steps': str(self.stats['steps']), 'adapt_swaps': str(self.stats['swaps']),
                'adapt_reverts': str(self.stats['reverts']),
                'adapt_loss_trend': trend,
                'adapt_validation': f'{self.stats["good_val"]:.4f}',
                'adapt_buffer': f'{buffered} train + {held} held back',
                'adapt_static_skipped': str(self.stats['static_skipped'])}
