"""Export of the depth and motion networks to ONNX, cached on disk.

Each network is exported at one fixed input size (batch 1) through a small wrapper that returns
exactly the tensors the Estimator uses:

- depth: image (1, 3, H, W) RGB in [0, 1] -> disp (1, 1, H, W), the full-resolution sigmoid
  disparity (scale 0 of `DepthNet`'s 'disp');
- motion: target, source (1, 3, H, W), depth (1, 1, H, W) model units, K (1, 3, 3) pixels ->
  T (1, 4, 4) T_prev_cur and object_motion (1, 3, H, W) model units (MotionNet's 'T' and
  'object_motion'; the re-warping GridSample ops included, hence opset >= 16).

The exporter is torch's TorchScript-based one (`dynamo=False`): it needs only the `onnx`
package, whereas the torch.export-based exporter also needs `onnxscript`.

The files are cached beside the weights file when that folder is writable, else in
$XDG_CACHE_HOME/rmdepth_ros (default ~/.cache/rmdepth_ros), named
`<weights stem>.<model id>.<W>x<H>.<network>.<EXPORT_TAG>.onnx`; they are written to a temporary
name and renamed, so a concurrent reader never sees half a file.
"""

from __future__ import annotations

from collections.abc import Callable
import hashlib
import json
import os
from pathlib import Path
import tempfile
import warnings

import torch
from torch import Tensor, nn

from rmdepth_ros.model.rmdepth import RMDepth
from rmdepth_ros.model.weights import content_hash

OPSET = 17
#: Part of every cached file name: change it when the wrappers or the export options change.
EXPORT_TAG = f'op{OPSET}v1'
NETWORKS = ('depth', 'motion')
INPUT_NAMES = {'depth': ('image',), 'motion': ('target', 'source', 'depth', 'K')}
OUTPUT_NAMES = {'depth': ('disp',), 'motion': ('T', 'object_motion')}


class DepthExport(nn.Module):
    """image (1, 3, H, W) -> full-resolution sigmoid disparity (1, 1, H, W)."""

    def __init__(self, model: RMDepth) -> None:
        super().__init__()
        self.depth_net = model.depth_net

    def forward(self, image: Tensor) -> Tensor:
        return self.depth_net(image)['disp'][0]


class MotionExport(nn.Module):
    """(target, source, depth, K) -> (T_prev_cur (1, 4, 4), object motion (1, 3, H, W))."""

    def __init__(self, model: RMDepth) -> None:
        super().__init__()
        self.motion_net = model.motion_net

    def forward(self, target: Tensor, source: Tensor, depth: Tensor,
                K: Tensor) -> tuple[Tensor, Tensor]:
        motion = self.motion_net(target, source, depth, K)
        return motion['T'], motion['object_motion']


def example_inputs(network: str, input_size: tuple[int, int]) -> tuple[Tensor, ...]:
    """Plausible inputs of `network` at (width, height), used to trace it."""
    width, height = input_size
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, height, width, generator=generator)
    if network == 'depth':
        return (image,)
    depth = torch.full((1, 1, height, width), 10.0)
    K = torch.tensor([[[0.6 * width, 0.0, width / 2], [0.0, 1.9 * height, height / 2],
                       [0.0, 0.0, 1.0]]])
    return image, torch.rand(1, 3, height, width, generator=generator), depth, K


def export_network(model: RMDepth, network: str, input_size: tuple[int, int],
                   path: Path) -> None:
    """Export one network (fp32, CPU, fixed size) to `path`, atomically."""
    wrapper = (DepthExport if network == 'depth' else MotionExport)(model)
    wrapper = wrapper.float().cpu().eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=path.name + '.', suffix='.tmp', dir=path.parent)
    os.close(handle)
    try:
        with warnings.catch_warnings():
            # Shape checks become constants in the trace (expected: the size is fixed), and
            # the TorchScript exporter announces its own deprecation.
            warnings.simplefilter('ignore')
            with torch.no_grad():
                torch.onnx.export(wrapper, example_inputs(network, input_size), temporary,
                                  input_names=list(INPUT_NAMES[network]),
                                  output_names=list(OUTPUT_NAMES[network]),
                                  opset_version=OPSET, dynamo=False)
        os.chmod(temporary, 0o644)  # (mkstemp makes it private; the cache is shared)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def user_cache_dir() -> Path:
    """$XDG_CACHE_HOME/rmdepth_ros, or ~/.cache/rmdepth_ros."""
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return Path(base) / 'rmdepth_ros'


def _writable(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def cache_paths(model: RMDepth, metadata: dict, input_size: tuple[int, int]) -> dict[str, Path]:
    """Where the ONNX files of `model` at `input_size` live: {'depth': path, 'motion': path}.

    A model loaded from a weights file (metadata with 'path' and 'model_id') is keyed by its
    model id, beside the file if that folder is writable; any other model by the hash of its
    current tensors, in the user cache folder. The key also carries a short hash of the
    architecture: the same tensors run with other RMU iterations (a light configuration) are
    another network.
    """
    weights = metadata.get('path')
    if weights and metadata.get('model_id'):
        stem, model_id = Path(weights).stem, str(metadata['model_id'])
        folder = Path(weights).resolve().parent
        if not _writable(folder):
            folder = user_cache_dir()
    else:
        stem, folder = 'in-memory', user_cache_dir()
        model_id = content_hash(model.state_dict())[:12]
    arch = hashlib.sha256(json.dumps(model.config.to_dict(), sort_keys=True).encode())
    width, height = input_size
    key = f'{model_id}-{arch.hexdigest()[:6]}'
    return {network: folder / f'{stem}.{key}.{width}x{height}.{network}.{EXPORT_TAG}.onnx'
            for network in NETWORKS}


def cached_onnx(model: RMDepth, metadata: dict, input_size: tuple[int, int],
                log: Callable[[str], None]) -> dict[str, Path]:
    """The ONNX files of both networks, exported now (one `log` line) if not cached yet."""
    paths = cache_paths(model, metadata, input_size)
    missing = [network for network, path in paths.items() if not path.is_file()]
    if missing:
        folder = paths['depth'].parent
        log(f'exporting the {" and ".join(missing)} network(s) to ONNX at '
            f'{input_size[0]}x{input_size[1]} (first use of this model and size; cached in '
            f'{folder})')
        for network in missing:
            export_network(model, network, input_size, paths[network])
    return paths
