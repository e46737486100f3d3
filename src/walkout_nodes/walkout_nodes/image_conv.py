"""sensor_msgs Image / CompressedImage <-> numpy: through cv_bridge when it is importable, else direct.

Both paths give the same arrays; ``use_cv_bridge=False`` forces the direct numpy path (tests run
both). Encodings: rgb8, bgr8, mono8.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sensor_msgs.msg import CompressedImage, Image

from walkout_core.vision.image import (ImageError, convert_encoding, decode_jpeg, encode_jpeg, fields_to_numpy,
                                       numpy_to_fields)

try:  # cv_bridge comes with a full ROS 2 install, not with the PyPI wheels
    from cv_bridge import CvBridge  # type: ignore[import-not-found]
    HAVE_CV_BRIDGE = True
except ImportError:  # pragma: no cover - depends on the install
    CvBridge = None
    HAVE_CV_BRIDGE = False

__all__ = ['HAVE_CV_BRIDGE', 'ImageError', 'image_to_numpy', 'numpy_to_image', 'image_to_bgr',
           'compressed_to_bgr', 'bgr_to_compressed']

_bridge: Any = None


def _get_bridge():
    global _bridge
    if _bridge is None:
        _bridge = CvBridge()
    return _bridge


def image_to_numpy(msg: Image, use_cv_bridge: bool | None = None) -> np.ndarray:
    """An Image -> array in the message's own encoding (H, W, 3) or (H, W)."""
    if use_cv_bridge is None:
        use_cv_bridge = HAVE_CV_BRIDGE
    if use_cv_bridge:
        if not HAVE_CV_BRIDGE:
            raise ImageError('cv_bridge is not installed')
        try:
            return np.ascontiguousarray(_get_bridge().imgmsg_to_cv2(msg, desired_encoding='passthrough'))
        except Exception as exc:  # noqa: BLE001 - cv_bridge raises its own error types
            raise ImageError(f'cv_bridge: {exc}') from exc
    return fields_to_numpy(msg.height, msg.width, msg.encoding, msg.step, msg.data)


def numpy_to_image(arr: np.ndarray, encoding: str, header: Any = None, use_cv_bridge: bool | None = None) -> Image:
    """An array in ``encoding`` -> Image."""
    if use_cv_bridge is None:
        use_cv_bridge = HAVE_CV_BRIDGE
    if use_cv_bridge:
        if not HAVE_CV_BRIDGE:
            raise ImageError('cv_bridge is not installed')
        msg = _get_bridge().cv2_to_imgmsg(np.ascontiguousarray(arr), encoding=encoding)
    else:
        f = numpy_to_fields(arr, encoding)
        msg = Image(height=f['height'], width=f['width'], encoding=f['encoding'], is_bigendian=f['is_bigendian'],
                    step=f['step'])
        msg.data = f['data']
    if header is not None:
        msg.header = header
    return msg


def image_to_bgr(msg: Image, use_cv_bridge: bool | None = None) -> np.ndarray:
    """An Image (rgb8, bgr8, mono8) -> BGR array, the detector's input order for every transport."""
    arr = image_to_numpy(msg, use_cv_bridge)
    return convert_encoding(arr, msg.encoding, 'bgr8')


def compressed_to_bgr(msg: CompressedImage) -> np.ndarray:
    return decode_jpeg(msg.data)


def bgr_to_compressed(bgr: np.ndarray, quality: int, header: Any = None) -> CompressedImage:
    msg = CompressedImage(format='jpeg')
    msg.data = encode_jpeg(bgr, quality)
    if header is not None:
        msg.header = header
    return msg
