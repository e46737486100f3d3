"""ONNX person detector backend through OpenCV's dnn module (no ROS, no onnxruntime).

Model contract: input ``1x3xHxW`` float (RGB or the channel order of the frames, scaled to
0..1), output ``1xCxH'xW'`` heat map(s): channel 0 = person centres, optional channel 1 =
hands, values in 0..1. Person centres are the local maxima of channel 0 above
``onnx_threshold``, at least ``min_person_separation_m`` apart; each hand peak goes to the
nearest person within ``max_arm_length_m``. Output pixels are scaled back to frame pixels and
mapped to the floor through the camera's homography.
"""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from walkout_core.vision.config import DetectorConfig
from walkout_core.vision.detector import Detection, FrameDetections, _FrameGuard, odd_kernel

__all__ = ['OnnxDetector']


class OnnxDetector:
    """Heat-map ONNX model run with ``cv2.dnn`` for one overhead camera."""

    def __init__(self, camera, cfg: DetectorConfig, model_path: str | None = None):
        self.camera, self.cfg = camera, cfg
        path = Path(model_path or cfg.onnx_model_path)
        if not path.is_file():
            raise FileNotFoundError(f'parameter onnx_model_path: {str(path)!r} is not a file')
        try:
            self.net = cv2.dnn.readNetFromONNX(str(path))
        except cv2.error as exc:
            raise ValueError(f'parameter onnx_model_path: {str(path)!r} is not a loadable ONNX model: {exc}') from exc
        self.width, self.height = int(camera.width), int(camera.height)
        self.in_w = cfg.onnx_input_width or self.width
        self.in_h = cfg.onnx_input_height or self.height
        self.mpp = float(camera.metres_per_pixel)
        self._guard = _FrameGuard(cfg, self.width, self.height)

    def reset(self) -> None:
        self._guard.reset()

    def infer(self, image: np.ndarray) -> np.ndarray:
        """Raw network output for one frame, (C, H', W') float32."""
        img = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        blob = cv2.dnn.blobFromImage(img, scalefactor=1.0 / 255.0, size=(self.in_w, self.in_h), swapRB=False,
                                     crop=False)
        self.net.setInput(blob)
        out = np.asarray(self.net.forward(), np.float32)
        if out.ndim == 4:
            out = out[0]
        elif out.ndim == 2:
            out = out[None]
        return out

    def _peaks(self, heat: np.ndarray, sep_px: float) -> np.ndarray:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (max(3, odd_kernel(sep_px, 1.0)),) * 2)
        dil = cv2.dilate(heat, k)
        ys, xs = np.nonzero((heat >= dil) & (heat >= self.cfg.onnx_threshold))
        order = np.argsort(-heat[ys, xs])
        keep: list[tuple[float, float, float]] = []
        for i in order:
            x, y = float(xs[i]), float(ys[i])
            if all((x - a) ** 2 + (y - b) ** 2 >= sep_px ** 2 for a, b, _ in keep):
                keep.append((x, y, float(heat[ys[i], xs[i]])))
        return np.array(keep, float).reshape(-1, 3)

    def detect(self, image: np.ndarray, stamp_s: float) -> FrameDetections:
        reason = self._guard.check(image)
        if reason:
            return FrameDetections(False, (), reason)
        out = self.infer(image)
        sx, sy = self.width / out.shape[2], self.height / out.shape[1]
        sep_px = self.cfg.min_person_separation_m / (self.mpp * sx)
        people = self._peaks(out[0], sep_px)
        if people.size == 0:
            return FrameDetections(True, ())
        uv = (people[:, :2] + 0.5) * [sx, sy]
        xy = self.camera.image_to_floor(uv)
        hands: dict[int, np.ndarray] = {}
        if out.shape[0] > 1:
            hp = self._peaks(out[1], sep_px / 2)
            if hp.size:
                huv = (hp[:, :2] + 0.5) * [sx, sy]
                hxy = self.camera.image_to_floor(huv)
                for h in hxy:
                    d = np.hypot(xy[:, 0] - h[0], xy[:, 1] - h[1])
                    k = int(np.argmin(d))
                    if self.cfg.arm_min_reach_m <= d[k] <= self.cfg.max_arm_length_m:
                        if k not in hands or d[k] > np.hypot(*(hands[k] - xy[k])):
                            hands[k] = h
        r = math.sqrt(self.cfg.person_area_m2 / math.pi)
        dets = []
        for k in range(len(people)):
            has = k in hands
            hx, hy = (hands[k] if has else xy[k])
            dets.append(Detection(x=float(xy[k, 0]), y=float(xy[k, 1]), sigma_m=self.cfg.position_sigma_m,
                                  radius_m=r, area_m2=self.cfg.person_area_m2,
                                  confidence=float(min(1.0, people[k, 2])), has_reach=has,
                                  reach_x=float(hx), reach_y=float(hy), u=float(uv[k, 0]), v=float(uv[k, 1])))
        return FrameDetections(True, tuple(dets))
