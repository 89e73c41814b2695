"""What the Estimator accepts as a frame, and how a frame becomes the network's input tensor.

No ROS here. Each check raises one ValueError (TypeError for a non-array image) naming the
problem.
"""

from __future__ import annotations

from collections.abc import Sequence
import math

import cv2
import numpy as np
import torch


def validate_frame(image: np.ndarray, intrinsics: np.ndarray, timestamp: float
                   ) -> tuple[np.ndarray, np.ndarray, float]:
    """(image, K, timestamp) checked: uint8 (H, W, 3) RGB or (H, W) gray (an (H, W, 1) image
    becomes (H, W)), at least 8x8; K a finite (3, 3) float64 with fx, fy > 0; a finite stamp."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f'image must be a numpy array, got {type(image).__name__}')
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3
                                                            and image.shape[2] == 3)):
        raise ValueError(f'image must be uint8 (H, W, 3) RGB or (H, W) gray, got '
                         f'{image.dtype} {image.shape}')
    if image.shape[0] < 8 or image.shape[1] < 8:
        raise ValueError(f'image is too small: {image.shape[1]}x{image.shape[0]} '
                         f'(at least 8x8 pixels)')
    # a contiguous copy: K sliced from a 3x4 projection matrix is a strided view, and OpenCV
    # 5's findEssentialMat (USAC) gives no answer for a non-contiguous camera matrix
    k = np.array(intrinsics, dtype=np.float64, order='C')
    if k.shape != (3, 3) or not np.all(np.isfinite(k)) or k[0, 0] <= 0 or k[1, 1] <= 0:
        raise ValueError('intrinsics must be a finite 3x3 matrix with fx, fy > 0')
    timestamp = float(timestamp)
    if not math.isfinite(timestamp):
        raise ValueError(f'timestamp must be finite, got {timestamp}')
    return image, k, timestamp


def validate_skipped(skipped: Sequence[float]) -> list[float]:
    """The stamps (seconds) of skipped frames as floats; every one must be finite."""
    stamps = [float(stamp) for stamp in skipped]
    if not all(math.isfinite(stamp) for stamp in stamps):
        raise ValueError(f'skipped stamps must be finite, got {stamps}')
    return stamps


def to_network_tensor(image: np.ndarray, input_size: tuple[int, int],
                      device: torch.device) -> torch.Tensor:
    """uint8 (H, W, 3) or (H, W) -> (1, 3, height, width) float in [0, 1] on `device`, resized
    to input_size (width, height) if needed (area when shrinking, else bilinear)."""
    width, height = input_size
    if image.shape[1] != width or image.shape[0] != height:
        shrinking = image.shape[1] > width and image.shape[0] > height
        image = cv2.resize(image, (width, height),
                           interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    tensor = torch.from_numpy(np.ascontiguousarray(image)).to(device)
    # (H, W, 3) uint8 -> (1, 3, H, W) float in [0, 1]
    return tensor.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
