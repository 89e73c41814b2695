"""Run logs: TensorBoard scalars and image panels, or a JSONL file of scalars without TensorBoard.

Validation results always also go to RUN/validation.jsonl (one JSON object per validation), which
`export` reads to put the measured numbers into the weights file's notes.
"""

from __future__ import annotations

import json
from pathlib import Path
import sys
import time

import cv2
import numpy as np
import torch
from torch import Tensor


class RunLogger:
    """Scalars (and images) of rank 0. TensorBoard when importable, else RUN/scalars.jsonl."""

    def __init__(self, run_dir: Path, enabled: bool = True) -> None:
        self.run_dir = run_dir
        self.enabled = enabled
        self.writer = None
        self.jsonl = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir / 'tensorboard'))
        except ImportError:
            self.jsonl = open(run_dir / 'scalars.jsonl', 'a')  # noqa: SIM115 (closed in close())
            print(f'rmdepth-train: tensorboard is not installed; scalars go to '
                  f'{run_dir / "scalars.jsonl"} and image panels are skipped', file=sys.stderr)

    def scalars(self, step: int, values: dict[str, float], prefix: str = 'train') -> None:
        if not self.enabled:
            return
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f'{prefix}/{key}', value, step)
        else:
            record = {'step': step, 'time': time.time(),
                      **{f'{prefix}/{k}': v for k, v in values.items()}}
            self.jsonl.write(json.dumps(record) + '\n')
            self.jsonl.flush()

    def images(self, step: int, panels: dict[str, np.ndarray]) -> None:
        """panels: name -> (H, W, 3) uint8 RGB."""
        if not self.enabled or self.writer is None:
            return
        for key, image in panels.items():
            self.writer.add_image(f'images/{key}', image, step, dataformats='HWC')

    def validation(self, step: int, values: dict[str, float]) -> None:
        self.scalars(step, values, prefix='val')
        if self.enabled:
            with open(self.run_dir / 'validation.jsonl', 'a') as handle:
                handle.write(json.dumps({'step': step, **values}) + '\n')

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.jsonl is not None:
            self.jsonl.close()


def colourise_disparity(disp: Tensor) -> np.ndarray:
    """Disparity (H, W) -> (H, W, 3) uint8 RGB, magma, normalised by its 95th percentile.

    A percentile (not min-max) keeps one very near pixel from washing out the panel.
    """
    values = disp.detach().float().cpu().numpy()
    scaled = np.clip(values / (np.percentile(values, 95) + 1e-8), 0, 1)
    bgr = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_MAGMA)
    return bgr[:, :, ::-1].copy()


def colourise_flow(flow: Tensor, valid: Tensor | None = None) -> np.ndarray:
    """Flow (2, H, W) pixels -> (H, W, 3) uint8 RGB: hue = direction, value = magnitude."""
    u, v = flow.detach().float().cpu().numpy()
    magnitude = np.hypot(u, v)
    angle = (np.degrees(np.arctan2(v, u)) % 360) / 2  # OpenCV hue is 0..180
    hsv = np.zeros((*u.shape, 3), np.uint8)
    hsv[..., 0] = angle.astype(np.uint8)
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(255 * magnitude / (np.percentile(magnitude, 99) + 1e-6), 0, 255)
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if valid is not None:
        rgb[~valid.detach().cpu().numpy().astype(bool)] = 0
    return rgb


def to_uint8(image: Tensor) -> np.ndarray:
    """(3, H, W) in [0, 1] -> (H, W, 3) uint8; (1, H, W) in [0, 1] -> gray as RGB."""
    array = image.detach().float().cpu().clamp(0, 1).numpy()
    if array.shape[0] == 1:
        array = np.repeat(array, 3, axis=0)
    return (array.transpose(1, 2, 0) * 255).round().astype(np.uint8)


def image_panels(images: Tensor, disp: Tensor, flow: Tensor, flow_valid: Tensor,
                 object_mask: Tensor, automask: Tensor) -> dict[str, np.ndarray]:
    """TensorBoard panels of the first sample: input, disparity, flow, masks.

    images: (F, 3, H, W) target at F // 2; disp (1, H, W); flow (2, H, W) to the previous frame;
    flow_valid, object_mask, automask: (1, H, W).
    """
    target = images[images.shape[0] // 2]
    mask = torch.cat([object_mask.float(), automask.float(), torch.zeros_like(automask)], 0)
    return {'input': to_uint8(target), 'disparity': colourise_disparity(disp[0]),
            'flow': colourise_flow(flow, flow_valid[0]),
            'mask_moving_red_automask_green': to_uint8(mask)}
