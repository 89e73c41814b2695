"""How an input image of any aspect ratio becomes the network's input, and outputs come back.

Modes (the `resize` option of the estimator, node and rmdepth-eval):

- 'crop': the largest centred window of the network's aspect ratio inside the image is resized
  to the network size; outputs outside the window are NaN (depth, flow, object motion) or False
  (motion mask): not estimated.
- 'pad': the image is padded (edge replication: the border rows / columns repeated) on both
  sides of the short dimension to the network's aspect ratio, then resized; outputs in the
  padding are dropped, every input pixel gets an estimate.
- 'stretch': the whole image is resized to the network size, whatever its aspect ratio.
- 'native': the whole image is resized to a network size of its own aspect ratio with about
  the network size's pixel count (`native_size`: width and height multiples of 8) for depth:
  the depth network is convolutional and runs at any such size, so every pixel gets a depth
  at the resolution of the weights' pixel budget. The estimator runs the motion network
  (camera motion, flow, masks) on the 'crop' window at the network size, with the depth
  resampled onto it: with the shipped 3:1 weights the pose head, run at another width, drifted
  in yaw (KITTI 00: its 77 deg turn seen as 50 deg at 208x64, 85 deg on the crop window).

All four are one `Window`: an integer rectangle (x0, y0, width, height) in input pixels,
possibly reaching outside the image (pad), that is resized to the network size. Integer offsets
keep the intrinsics exact: cx' = cx - x0, cy' = cy - y0, then the resize rule of
docs/conventions.md from (width, height) to the network size. numpy + OpenCV only.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import cv2
import numpy as np

RESIZE_MODES = ('crop', 'pad', 'stretch', 'native')
# The estimator's, node's and rmdepth-eval's default: depth on every pixel of any camera
# (docs/resize.md has the measurements that chose it).
DEFAULT_RESIZE = 'native'


@dataclass(frozen=True)
class Window:
    """The input-pixel rectangle that becomes the network input.

    image_size, net_size: (width, height). x0, y0, width, height: the rectangle, integer pixels
    of the input image (x0, y0 may be negative, width / height may exceed the image's in 'pad').
    """

    image_size: tuple[int, int]
    net_size: tuple[int, int]
    x0: int
    y0: int
    width: int
    height: int

    @property
    def scale(self) -> tuple[float, float]:
        """Network pixels per window pixel, (sx, sy)."""
        return self.net_size[0] / self.width, self.net_size[1] / self.height

    def network_intrinsics(self, k: np.ndarray) -> np.ndarray:
        """(3, 3) intrinsics of the image -> (3, 3) float64 intrinsics of the network input."""
        sx, sy = self.scale
        # Shift by the window's corner, then scale about pixel centres: cx' = (cx - x0 + 0.5)
        # sx - 0.5; the skew scales with fx.
        affine = np.array([[sx, 0.0, sx * (0.5 - self.x0) - 0.5],
                           [0.0, sy, sy * (0.5 - self.y0) - 0.5],
                           [0.0, 0.0, 1.0]])
        return affine @ np.asarray(k, dtype=np.float64)

    def to_network(self, image: np.ndarray) -> np.ndarray:
        """Image (H, W[, C]) -> (net_h, net_w[, C]) network input, same dtype."""
        width, height = self.image_size
        if image.shape[:2] != (height, width):
            raise ValueError(f'image is {image.shape[1]}x{image.shape[0]}, window is for '
                             f'{width}x{height}')
        top, left = max(0, -self.y0), max(0, -self.x0)
        bottom = max(0, self.y0 + self.height - height)
        right = max(0, self.x0 + self.width - width)
        inside = image[max(0, self.y0):min(height, self.y0 + self.height),
                       max(0, self.x0):min(width, self.x0 + self.width)]
        if top or bottom or left or right:
            inside = cv2.copyMakeBorder(inside, top, bottom, left, right, cv2.BORDER_REPLICATE)
        if (self.width, self.height) == self.net_size:
            return np.ascontiguousarray(inside)
        shrinking = self.width > self.net_size[0] and self.height > self.net_size[1]
        return cv2.resize(inside, self.net_size,
                          interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)

    def sample_to_network(self, array: np.ndarray, fill: float | bool) -> np.ndarray:
        """A per-pixel map on the image grid (H, W) -> (net_h, net_w) by nearest neighbour
        (each network pixel takes one image pixel's value: labels and masks are not averaged),
        `fill` where the window reaches outside the image (pad)."""
        width, height = self.image_size
        if array.shape[:2] != (height, width):
            raise ValueError(f'map is {array.shape[1]}x{array.shape[0]}, window is for '
                             f'{width}x{height}')
        # the centre of network pixel i lies at window pixel (i + 0.5) / s - 0.5
        sx, sy = self.scale
        xs = np.floor(self.x0 + (np.arange(self.net_size[0]) + 0.5) / sx).astype(np.int64)
        ys = np.floor(self.y0 + (np.arange(self.net_size[1]) + 0.5) / sy).astype(np.int64)
        inside = ((ys >= 0) & (ys < height))[:, None] & ((xs >= 0) & (xs < width))[None, :]
        out = array[np.clip(ys, 0, height - 1)[:, None], np.clip(xs, 0, width - 1)[None, :]]
        if not inside.all():
            out = np.where(inside.reshape(inside.shape + (1,) * (out.ndim - 2)), out,
                           np.asarray(fill, out.dtype))
        return out

    def _place(self, window_array: np.ndarray, fill: float | bool) -> np.ndarray:
        """An array on the window's grid -> the input grid, `fill` where the window is not."""
        width, height = self.image_size
        out = np.full((height, width) + window_array.shape[2:], fill, window_array.dtype)
        ys = slice(max(0, self.y0), min(height, self.y0 + self.height))
        xs = slice(max(0, self.x0), min(width, self.x0 + self.width))
        out[ys, xs] = window_array[ys.start - self.y0:ys.stop - self.y0,
                                   xs.start - self.x0:xs.stop - self.x0]
        return out

    def _resize(self, array: np.ndarray, interpolation: int) -> np.ndarray:
        if array.shape[:2] == (self.height, self.width):
            return array
        return cv2.resize(array, (self.width, self.height), interpolation=interpolation)

    def depth_to_input(self, depth: np.ndarray) -> np.ndarray:
        """(net_h, net_w) depth -> (H, W) float32, resized as disparity, NaN outside."""
        disparity = self._resize(1.0 / depth.astype(np.float32), cv2.INTER_LINEAR)
        return self._place((1.0 / disparity).astype(np.float32), np.nan)

    def flow_to_input(self, flow: np.ndarray) -> np.ndarray:
        """(net_h, net_w, 2) flow in network pixels (NaN = invalid) -> (H, W, 2) input pixels.

        The window's offset is the same in both frames, so flow only scales.
        """
        valid = self._resize(np.isfinite(flow[..., 0]).astype(np.uint8), cv2.INTER_NEAREST)
        out = self._resize(np.nan_to_num(flow).astype(np.float32), cv2.INTER_LINEAR).copy()
        sx, sy = self.scale
        out[..., 0] /= sx
        out[..., 1] /= sy
        out[valid == 0] = np.nan
        return self._place(out, np.nan)

    def mask_to_input(self, mask: np.ndarray) -> np.ndarray:
        """(net_h, net_w) bool -> (H, W) bool, nearest neighbour, False outside."""
        resized = self._resize(mask.astype(np.uint8), cv2.INTER_NEAREST).astype(bool)
        return self._place(resized, False)

    def field_to_input(self, field: np.ndarray) -> np.ndarray:
        """(net_h, net_w, C) float field (e.g. object motion, metres) -> (H, W, C), NaN outside."""
        resized = self._resize(field.astype(np.float32), cv2.INTER_LINEAR)
        if resized.ndim == 2:  # cv2 drops a trailing channel axis of 1
            resized = resized[..., None]
        return self._place(resized, np.nan)


def native_size(image_size: tuple[int, int], budget_size: tuple[int, int]) -> tuple[int, int]:
    """The network size for 'native': the image's aspect ratio at about budget_size's pixels.

    image_size, budget_size and the result are (width, height). Both sides are multiples of 8
    (the networks' stride): the height is the multiple of 8 (of the two around the exact
    value) whose pixel count with its width comes nearer the budget, the width the multiple of
    8 nearest height x aspect. The residual aspect difference (a few per cent at 192x64) is
    absorbed by scaling fx and fy separately, exactly.
    """
    width, height = image_size
    if width <= 0 or height <= 0 or budget_size[0] <= 0 or budget_size[1] <= 0:
        raise ValueError(f'sizes must be positive, got {image_size} and {budget_size}')
    aspect = width / height
    budget = budget_size[0] * budget_size[1]
    exact = math.sqrt(budget / aspect)

    def size_for(net_h: int) -> tuple[int, int]:
        return max(8, 8 * round(net_h * aspect / 8)), net_h

    heights = {max(8, 8 * math.floor(exact / 8)), max(8, 8 * math.ceil(exact / 8))}
    return min((size_for(h) for h in sorted(heights)),
               key=lambda size: abs(math.log(size[0] * size[1] / budget)))


def input_window(image_size: tuple[int, int], net_size: tuple[int, int], mode: str) -> Window:
    """The window for an image of `image_size` and a network of `net_size`, both (width, height).

    Crop / pad sizes are rounded to whole pixels and centred, x0 = floor((W - width) / 2) (and
    likewise y0), so the window's aspect matches the network's to within one pixel. 'native'
    takes the whole image, and the window's net_size is `native_size(image_size, net_size)`.
    """
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {', '.join(RESIZE_MODES)}, got '{mode}'")
    width, height = image_size
    if mode == 'native':
        return Window(image_size, native_size(image_size, net_size), 0, 0, width, height)
    net_w, net_h = net_size
    if mode == 'stretch' or width * net_h == height * net_w:
        return Window(image_size, net_size, 0, 0, width, height)
    image_wider = width * net_h > height * net_w
    if (mode == 'crop') == image_wider:   # crop a wide image / pad a tall one: change width
        new_w = max(1, round(height * net_w / net_h))
        return Window(image_size, net_size, (width - new_w) // 2, 0, new_w, height)
    new_h = max(1, round(width * net_h / net_w))
    return Window(image_size, net_size, 0, (height - new_h) // 2, width, new_h)
