"""Colour images for viewing: depth, optical flow and the moving-object mask (all bgr8).

Ranges are fixed by the caller for a stable picture: pass ``min_depth`` / ``max_depth`` and
``max_flow``. Only when they are left out is a robust per-frame range (percentiles, not min-max)
computed, which is convenient for a single image but makes colours flicker over a sequence.
"""

import cv2
import numpy as np

from rmdepth_ros.ros.message_fields import ConversionError
from rmdepth_ros.ros.strips import row_strips

# A robust range needs no more than this many samples (percentiles of a strided subset).
_RANGE_SAMPLES = 20000


def _robust_range(values: np.ndarray, low: float, high: float) -> tuple[float, float] | None:
    """(low, high) percentiles of a 1-D array, from a strided subset; None when empty."""
    if values.size == 0:
        return None
    stride = max(1, values.size // _RANGE_SAMPLES)
    lo, hi = np.percentile(values[::stride], [low, high])
    return float(lo), float(hi)


def colorize_depth(depth: np.ndarray, min_depth: float | None = None,
                   max_depth: float | None = None,
                   percentiles: tuple[float, float] = (2.0, 98.0)) -> np.ndarray:
    """Colour-map a depth image (turbo on inverse depth: near = red, far = blue).

    Inverse depth spreads the colours over the near range, where monocular depth has its
    detail and where a linear map would leave everything beyond a few metres one colour.

    Args:
        depth: (H, W) metres; NaN / <= 0 invalid (black), +inf (sky) drawn as far.
        min_depth, max_depth: fixed range in metres (nearer / farther values saturate). A value
            left as None is taken from ``percentiles`` of this frame's inverse depth.

    Returns:
        (H, W, 3) uint8 BGR.
    """
    depth = np.asarray(depth, dtype=np.float32)
    if depth.ndim != 2:
        raise ConversionError(f'depth must be (H, W), got {depth.shape}')
    if min_depth is not None and max_depth is not None and not 0 < min_depth < max_depth:
        raise ConversionError(f'need 0 < min_depth < max_depth, got {min_depth}, {max_depth}')
    valid = depth > 0  # False for NaN
    with np.errstate(divide='ignore', invalid='ignore'):
        inverse = np.reciprocal(depth)  # 1/m; +inf depth -> 0
    inv_near = 1.0 / min_depth if min_depth is not None else None
    inv_far = 1.0 / max_depth if max_depth is not None else None
    if inv_near is None or inv_far is None:
        robust = _robust_range(inverse[valid], percentiles[0], percentiles[1])
        lo, hi = robust if robust is not None else (0.0, 1.0)
        inv_far = lo if inv_far is None else inv_far
        inv_near = hi if inv_near is None else inv_near
    span = inv_near - inv_far
    scale = 255.0 / span if span > 0 else 0.0
    # clip first so that the affine map stays in [0, 255] (convertScaleAbs takes |x|)
    np.clip(inverse, min(inv_far, inv_near), max(inv_far, inv_near), out=inverse)
    level = cv2.convertScaleAbs(inverse, alpha=scale, beta=-inv_far * scale)
    colour = cv2.applyColorMap(level, cv2.COLORMAP_TURBO)
    return cv2.bitwise_and(colour, colour, mask=valid.view(np.uint8))


def _colour_wheel() -> np.ndarray:
    """The Middlebury flow colour wheel: (55, 3) float32 RGB in [0, 255], hue steps.

    Segments (red -> yellow -> green -> cyan -> blue -> magenta -> red) have 15, 6, 4, 11, 13
    and 6 steps, chosen by Baker et al. to be roughly perceptually even.
    """
    segments = [  # (steps, channel that changes, rising?) starting from pure red
        (15, 1, True), (6, 0, False), (4, 2, True), (11, 1, False), (13, 0, True), (6, 2, False)]
    colour = np.array([255.0, 0.0, 0.0])
    rows = []
    for steps, channel, rising in segments:
        for i in range(steps):
            value = 255.0 * i / steps
            colour[channel] = value if rising else 255.0 - value
            rows.append(colour.copy())
        colour[channel] = 255.0 if rising else 0.0
    return np.array(rows, dtype=np.float32)


# Flow colours come from one lookup table indexed by (direction bin, saturation level), so a
# frame costs one gather instead of per-pixel float blending.
_ANGLE_BINS = 256
_LEVELS = 128  # saturation levels 0 (white) .. _LEVELS (pure hue); _LEVELS + 1: beyond max_flow


def _flow_lut() -> np.ndarray:
    """(_ANGLE_BINS * (_LEVELS + 2) + 1,) uint32: packed B, G, R, 0 bytes; last entry black."""
    wheel = _colour_wheel()
    position = (np.arange(_ANGLE_BINS) + 0.5) * (len(wheel) / _ANGLE_BINS)
    k0 = np.floor(position).astype(int)
    frac = (position - k0)[:, None]
    hue = (1 - frac) * wheel[k0] + frac * wheel[(k0 + 1) % len(wheel)]  # (A, 3) RGB, circular
    saturation = (np.arange(_LEVELS + 1) / _LEVELS)[None, :, None]
    inside = 255.0 - saturation * (255.0 - hue[:, None, :])  # (A, L + 1, 3) white -> hue
    beyond = 0.75 * hue[:, None, :]  # Middlebury darkens out-of-range flow
    rgb = np.concatenate([inside, beyond], axis=1).reshape(-1, 3)
    bgr0 = np.zeros((rgb.shape[0] + 1, 4), dtype=np.uint8)
    bgr0[:-1, :3] = np.round(rgb[:, ::-1])
    return bgr0.view(np.uint32).reshape(-1)


_FLOW_LUT = _flow_lut()


def colorize_flow(flow: np.ndarray, max_flow: float | None = None) -> np.ndarray:
    """Colour-code optical flow with the standard (Middlebury) colour wheel.

    Hue is the direction of (u, v) in image coordinates (right = red, down = yellow-orange,
    left = cyan, up = blue-violet), saturation the magnitude relative to ``max_flow``; larger
    flow is drawn at full saturation, darkened by a quarter; NaN is black. Direction is
    quantised to 256 bins and saturation to 128 levels.

    Args:
        flow: (H, W, 2) pixels, channel 0 = u, channel 1 = v (ROS contract).
        max_flow: magnitude in pixels drawn fully saturated. None: this frame's 99th percentile
            magnitude, at least 1 pixel.

    Returns:
        (H, W, 3) uint8 BGR.
    """
    flow = np.asarray(flow, dtype=np.float32)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ConversionError(f'flow must be (H, W, 2), got {flow.shape}')
    if max_flow is None:
        samples = flow.reshape(-1, 2)[::max(1, flow.shape[0] * flow.shape[1] // _RANGE_SAMPLES)]
        magnitude = np.hypot(samples[:, 0], samples[:, 1])
        robust = _robust_range(magnitude[np.isfinite(magnitude)], 0.0, 99.0)
        max_flow = max(robust[1] if robust is not None else 1.0, 1.0)
    elif not max_flow > 0:
        raise ConversionError(f'max_flow must be positive, got {max_flow}')
    colour = np.empty(flow.shape[:2] + (3,), dtype=np.uint8)
    for start, end in row_strips(flow.shape[0], flow.shape[1]):
        colour[start:end] = _flow_strip_colour(flow[start:end], float(max_flow))
    return colour


def _flow_strip_colour(flow: np.ndarray, max_flow: float) -> np.ndarray:
    """(h, W, 2) flow in pixels -> (h, W, 3) uint8 BGR through the (direction, level) table."""
    u, v = cv2.split(flow)
    invalid = ~(np.isfinite(u) & np.isfinite(v))
    u[invalid] = 0.0
    v[invalid] = 0.0
    magnitude, angle = cv2.cartToPolar(u, v)  # pixels, radians in [0, 2 pi)
    angle *= np.float32(_ANGLE_BINS / (2 * np.pi))
    index = angle.astype(np.int32)  # direction bin
    np.minimum(index, _ANGLE_BINS - 1, out=index)
    index *= _LEVELS + 2
    magnitude *= np.float32(_LEVELS / max_flow)
    magnitude += np.float32(0.5)  # round to the nearest level
    np.minimum(magnitude, _LEVELS + 1, out=magnitude)
    index += magnitude.astype(np.int32)
    index[invalid] = len(_FLOW_LUT) - 1
    packed = _FLOW_LUT.take(index)  # (h, W) uint32 = B, G, R, 0 in memory
    return cv2.cvtColor(packed.view(np.uint8).reshape(flow.shape[:2] + (4,)),
                        cv2.COLOR_BGRA2BGR)


def overlay_mask(image_rgb: np.ndarray, mask: np.ndarray,
                 color: tuple[int, int, int] = (255, 0, 0), alpha: float = 0.5) -> np.ndarray:
    """Tint the moving pixels of an image, for viewing.

    Args:
        image_rgb: (H, W, 3) uint8 RGB or (H, W) uint8 gray, e.g. the estimator input.
        mask: (h, w) bool or uint8, nonzero = moving; resized (nearest) to the image if needed.
        color: tint as (R, G, B).
        alpha: tint opacity in [0, 1].

    Returns:
        (H, W, 3) uint8 BGR.
    """
    image = np.asarray(image_rgb)
    if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3
                                                           and image.shape[2] == 3)):
        raise ConversionError(
            f'image must be uint8 (H, W, 3) or (H, W), got {image.dtype} {image.shape}')
    if not 0.0 <= alpha <= 1.0:
        raise ConversionError(f'alpha must be in [0, 1], got {alpha}')
    code = cv2.COLOR_GRAY2BGR if image.ndim == 2 else cv2.COLOR_RGB2BGR
    bgr = cv2.cvtColor(image, code)
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ConversionError(f'mask must be (H, W), got {mask.shape}')
    moving = mask.astype(bool)
    if moving.shape != bgr.shape[:2]:
        moving = cv2.resize(moving.view(np.uint8), (bgr.shape[1], bgr.shape[0]),
                            interpolation=cv2.INTER_NEAREST).astype(bool)
    tint = np.empty_like(bgr)
    tint[0] = color[::-1]
    tint[1:] = tint[0]  # row copies: ~40x faster than broadcasting a 3-byte pixel
    blended = cv2.addWeighted(bgr, 1.0 - alpha, tint, alpha, 0.0)
    return cv2.copyTo(blended, moving.view(np.uint8), bgr)
