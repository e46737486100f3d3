"""Image <-> numpy helpers without ROS: raw sensor_msgs/Image fields and JPEG payloads.

The detector takes a 3-channel uint8 array in a fixed channel order (RGB or BGR: the
background model learns whatever it is given) or a single-channel uint8 array.
"""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np

__all__ = ['ENCODING_CHANNELS', 'ImageError', 'fields_to_numpy', 'numpy_to_fields', 'convert_encoding',
           'decode_jpeg', 'encode_jpeg']

#: encodings the walkout graph uses -> channels
ENCODING_CHANNELS = {'rgb8': 3, 'bgr8': 3, 'mono8': 1}


class ImageError(ValueError):
    """An image message that cannot be turned into an array (size, encoding, payload)."""


def fields_to_numpy(height: int, width: int, encoding: str, step: int, data: Any) -> np.ndarray:
    """A raw image's fields (as in sensor_msgs/Image) -> array (H, W, C) or (H, W), a copy."""
    channels = ENCODING_CHANNELS.get(encoding)
    if channels is None:
        raise ImageError(f'unsupported encoding {encoding!r} (supported: {sorted(ENCODING_CHANNELS)})')
    if height <= 0 or width <= 0:
        raise ImageError(f'empty image {width}x{height}')
    row = width * channels
    step = int(step) or row
    buf = np.frombuffer(bytes(data) if not isinstance(data, (bytes, bytearray, memoryview, np.ndarray))
                        else data, dtype=np.uint8)
    if step < row or buf.size < step * (height - 1) + row:
        raise ImageError(f'payload of {buf.size} bytes too small for {width}x{height} {encoding} step {step}')
    if buf.size < step * height:  # last row unpadded
        buf = np.concatenate([buf, np.zeros(step * height - buf.size, np.uint8)])
    arr = buf[:step * height].reshape(height, step)[:, :row]
    arr = arr.reshape(height, width, channels) if channels > 1 else arr.reshape(height, width)
    return np.ascontiguousarray(arr)


def numpy_to_fields(arr: np.ndarray, encoding: str) -> dict[str, Any]:
    """An array -> sensor_msgs/Image fields (height, width, encoding, is_bigendian, step, data)."""
    channels = ENCODING_CHANNELS.get(encoding)
    if channels is None:
        raise ImageError(f'unsupported encoding {encoding!r} (supported: {sorted(ENCODING_CHANNELS)})')
    arr = np.asarray(arr)
    if arr.dtype != np.uint8:
        raise ImageError(f'expected a uint8 array, got {arr.dtype}')
    got = 1 if arr.ndim == 2 else (arr.shape[2] if arr.ndim == 3 else -1)
    if got != channels:
        raise ImageError(f'array of shape {arr.shape} does not fit encoding {encoding!r}')
    arr = np.ascontiguousarray(arr)
    return {'height': int(arr.shape[0]), 'width': int(arr.shape[1]), 'encoding': encoding, 'is_bigendian': 0,
            'step': int(arr.shape[1] * channels), 'data': arr.tobytes()}


def convert_encoding(arr: np.ndarray, src: str, dst: str) -> np.ndarray:
    """Convert between rgb8, bgr8 and mono8."""
    if src == dst:
        return arr
    codes = {('rgb8', 'bgr8'): cv2.COLOR_RGB2BGR, ('bgr8', 'rgb8'): cv2.COLOR_BGR2RGB,
             ('rgb8', 'mono8'): cv2.COLOR_RGB2GRAY, ('bgr8', 'mono8'): cv2.COLOR_BGR2GRAY,
             ('mono8', 'rgb8'): cv2.COLOR_GRAY2RGB, ('mono8', 'bgr8'): cv2.COLOR_GRAY2BGR}
    try:
        return cv2.cvtColor(arr, codes[(src, dst)])
    except KeyError:
        raise ImageError(f'cannot convert {src!r} to {dst!r}') from None


def decode_jpeg(data: Any) -> np.ndarray:
    """A JPEG/PNG payload -> BGR array (H, W, 3). Raises ImageError when it does not decode."""
    buf = np.frombuffer(bytes(data) if not isinstance(data, (bytes, bytearray, memoryview, np.ndarray)) else data,
                        dtype=np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if img is None:
        raise ImageError(f'compressed payload of {buf.size} bytes does not decode')
    return img


def encode_jpeg(bgr: np.ndarray, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode('.jpg', bgr, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise ImageError('JPEG encoding failed')
    return buf.tobytes()
