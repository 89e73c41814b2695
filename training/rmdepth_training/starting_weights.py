"""Starting a run from a weights file (`init_weights`): the architecture it brings, and what a
config may change of it.

A config with `init_weights` takes the model section from the weights file; the keys its own
model section sets are changes to that architecture, and only the ones in CHANGEABLE keep the
starting function (see `train.train`): every other one is refused here, naming the key.
"""

from __future__ import annotations

import dataclasses
import os

from rmdepth_ros.model.config import RMDepthConfig

#: Model keys that may differ from the starting weights' architecture: the pose decoder's output
#: gains (`PoseDecoder.adopt_gains`), its coordinate inputs (added, never removed) and the RMU
#: iteration counts (the weights are shared across a level's iterations).
CHANGEABLE = ('pose_rotation_scale', 'pose_translation_scale', 'pose_coords', 'iterations')


class StartingWeightsError(ValueError):
    """The starting weights cannot be read, or do not fit the model section; one line."""


def weights_architecture(path: str | os.PathLike) -> RMDepthConfig:
    """The architecture stored in the weights file at `path` (tensors not loaded)."""
    from rmdepth_ros.model.weights import WeightsError, read_metadata

    try:
        return read_metadata(path)['config']
    except WeightsError as error:
        raise StartingWeightsError(f'init_weights: {error}') from None


def check_architecture(start: RMDepthConfig, model: RMDepthConfig, path: str) -> None:
    """Raise StartingWeightsError if a run of architecture `model` cannot start from weights
    of architecture `start` (the file at `path`)."""
    fixed = [field.name for field in dataclasses.fields(start)
             if field.name not in CHANGEABLE
             and getattr(start, field.name) != getattr(model, field.name)]
    if fixed:
        changes = ', '.join(f'model.{name}={_show(getattr(model, name))} (the weights: '
                            f'{_show(getattr(start, name))})' for name in fixed)
        raise StartingWeightsError(
            f'init_weights {path}: the config changes the architecture: {changes}; only '
            f"{', '.join(CHANGEABLE)} may differ. Remove the other keys from the model section: "
            'it takes them from the weights file')
    if start.pose_coords and not model.pose_coords:
        raise StartingWeightsError(
            f'init_weights {path}: the weights have pose_coords true; model.pose_coords false '
            'would drop their trained coordinate inputs')


def _show(value: object) -> str:
    return str(list(value)) if isinstance(value, tuple) else str(value)
