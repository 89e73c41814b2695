"""Which weights an evaluation runs: the given file, the shipped file, or (loudly) untrained."""

from __future__ import annotations

from pathlib import Path

from rmdepth_ros.model.weights import DEFAULT_WEIGHTS
from rmdepth_ros.model.weights import main as weights_cli

UNTRAINED_NOTE = ('UNTRAINED WEIGHTS: no trained weights are shipped yet, so this run uses '
                  'randomly initialised weights; depth, motion, flow and masks are NOT '
                  'meaningful, only the plumbing and the timings are')

#: Network input size of the untrained stand-in: the size the shipped weights are trained at.
UNTRAINED_SIZE = '192x64'


def choose_weights(weights: str | None, out_dir: Path, say=print) -> tuple[Path, str | None]:
    """(weights path, note or None). None = the shipped weights; if none ship, write untrained
    weights (seed 0, input UNTRAINED_SIZE) into out_dir and return UNTRAINED_NOTE."""
    if weights:
        return Path(weights), None
    if DEFAULT_WEIGHTS.is_file():
        return DEFAULT_WEIGHTS, None
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / 'untrained.safetensors'
    say(f'!!! no shipped weights at {DEFAULT_WEIGHTS}')
    say(f'!!! {UNTRAINED_NOTE}')
    if not path.is_file():
        weights_cli(['init', '--out', str(path), '--seed', '0', '--size', UNTRAINED_SIZE])
    return path, UNTRAINED_NOTE
