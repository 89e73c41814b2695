"""Shared fixtures: small randomly initialised weights written once per test session.

Nothing is downloaded: the weights are made here from a fixed seed.
"""

from pathlib import Path

import pytest
import torch

from rmdepth_ros.model.config import TINY
from rmdepth_ros.model.rmdepth import RMDepth
from rmdepth_ros.model.weights import save_weights

TINY_INPUT_SIZE = (64, 32)  # (width, height)


@pytest.fixture(scope='session')
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights file of the TINY architecture, random init, input size 64x32."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('weights') / 'tiny.safetensors'
    save_weights(path, RMDepth(TINY), TINY, TINY_INPUT_SIZE, notes='test fixture')
    return path
