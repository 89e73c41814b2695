"""The node's side of online adaptation (parameter `adapt`): a thin layer over the engine in
the training package (`rmdepth_training.adapt_online`), which a colcon install of the node
alone does not have; asking for adaptation without it is one start-up error naming the
package. Backends: torch only (checked by `NodeConfig`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rmdepth_ros.inference import Estimator
from rmdepth_ros.ros.node_config import NodeConfig


class NodeAdaptation:
    """Starts the engine, feeds it every processed frame, saves and reports it."""

    def __init__(self, estimator: Estimator, config: NodeConfig,
                 log: Callable[[str], None]) -> None:
        try:
            from rmdepth_training.adapt_online import OnlineAdapter, OnlineSettings
        except ImportError:
            raise ValueError("parameter 'adapt': online adaptation needs the rmdepth_training "
                             'package (pip install --no-deps -e training, from the rmdepth_ros '
                             'repository)') from None
        settings = OnlineSettings(budget=config.adapt_budget, lr=config.adapt_lr,
                                  batch=config.adapt_batch, buffer=config.adapt_buffer,
                                  validate_every=config.adapt_validate_every,
                                  replay=config.adapt_replay, anchor=config.adapt_anchor,
                                  pseudo_depth=config.adapt_pseudo_depth)
        self.estimator = estimator
        self.engine = OnlineAdapter(estimator.model, settings, estimator.device, log)
        self.save_path = config.adapt_save_path
        estimator.observer = self.engine.observe
        self.engine.start()

    def save(self) -> tuple[bool, str]:
        """Write the weights the node runs now (the last accepted ones) with their lineage."""
        path = Path(self.save_path).expanduser().resolve()
        try:
            model_id = self.engine.save(path, self.estimator.metadata)
        except OSError as error:
            return False, f'cannot write {path}: {error}'
        return True, (f'{path} written (model {model_id}; {self.engine.stats["swaps"]} '
                      f'accepted updates, {self.engine.stats["steps"]} steps)')

    def diagnostics(self) -> dict[str, str]:
        return self.engine.diagnostics()

    def stop(self) -> None:
        self.estimator.observer = None
        self.engine.stop()


def adaptation_values(adaptation: Any) -> dict[str, str]:
    """/diagnostics key-values: the engine's, or adapt: off."""
    if adaptation is None:
        return {'adapt': 'off'}
    return {'adapt': 'on (torch)', **adaptation.diagnostics()}
