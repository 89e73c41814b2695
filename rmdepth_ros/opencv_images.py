"""OpenCV-decoded images to the estimator's input layout (shared by file and message readers)."""

from __future__ import annotations

import cv2
import numpy as np


def decoded_to_rgb8(image: np.ndarray) -> np.ndarray:
    """An image as cv2.imread / cv2.imdecode return it -> uint8 RGB (H, W, 3) or gray (H, W).

    OpenCV gives colour as BGR(A) whatever the file or format string says. 16-bit images keep
    their high byte; alpha is dropped. Raises ValueError for other pixel types.
    """
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f'unsupported pixel type {image.dtype}')
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return image
    code = cv2.COLOR_BGR2RGB if image.shape[2] == 3 else cv2.COLOR_BGRA2RGB
    return cv2.cvtColor(image, code)
