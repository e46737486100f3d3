"""Tiny top-down scene renderer for the detector's tests and benchmark (no ROS, no simulator).

People are drawn in the floor plane through the camera's homography, as the simulator does:
a shadow, a body ellipse in a clothing colour, a head circle and, when reaching, an arm as a
thick line from the shoulder to the hand (with a 10 cm product box in it when ``item`` is set).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ['Person', 'render_background', 'render_frame']


@dataclass(frozen=True)
class Person:
    x: float                                 # [m]
    y: float                                 # [m]
    heading: float = 0.0                     # [rad] direction the person faces
    colour: tuple[int, int, int] = (40, 60, 200)
    hand: tuple[float, float] | None = None  # [m] hand position when reaching
    width_m: float = 0.55                    # [m] shoulder width
    depth_m: float = 0.32                    # [m] chest depth
    arm_width_m: float = 0.08                # [m]
    item: tuple[int, int, int] | None = None  # BGR colour of a product held in the hand (a 10 cm box)


def render_background(camera, shelves=(), seed: int = 0) -> np.ndarray:
    """Floor texture plus shelf boards with product patches, (H, W, 3) uint8."""
    rng = np.random.default_rng(seed)
    img = np.full((camera.height, camera.width, 3), (150, 145, 135), np.uint8)
    noise = rng.normal(0.0, 4.0, (camera.height // 8 + 1, camera.width // 8 + 1, 1))
    tex = cv2.resize(noise.astype(np.float32), (camera.width, camera.height))[:, :, None]
    img = np.clip(img + tex, 0, 255).astype(np.uint8)
    for s in shelves:
        px = np.round(camera.floor_to_image(s.footprint.array)).astype(np.int32)
        cv2.fillPoly(img, [px], (90, 80, 70))
        for i in range(len(s.lanes)):
            c = s.lane_position(i)[:2] - s.front_normal * s.depth / 2
            uv = camera.floor_to_image(c)[0]
            r = max(1, int(0.3 * s.lane_width / camera.metres_per_pixel))
            colour = tuple(int(v) for v in rng.integers(40, 230, 3))
            cv2.circle(img, (int(uv[0]), int(uv[1])), r, colour, -1)
    return img


def _poly(camera, pts: np.ndarray) -> np.ndarray:
    return np.round(camera.floor_to_image(pts) * 16).astype(np.int32)


def _ellipse_pts(x: float, y: float, a: float, b: float, heading: float, n: int = 24) -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    ex, ey = a * np.cos(t), b * np.sin(t)
    # a along the shoulders (perpendicular to the heading), b along the heading
    c, s = math.cos(heading + math.pi / 2), math.sin(heading + math.pi / 2)
    return np.stack([x + c * ex - s * ey, y + s * ex + c * ey], axis=1)


def render_frame(camera, background: np.ndarray, persons=(), gain: float = 1.0, noise_sigma: float = 2.0,
                 seed: int | None = None, shadow: bool = True) -> np.ndarray:
    """One frame (H, W, 3) uint8 with ``persons`` drawn over ``background``."""
    img = background.copy()
    shift = 4
    mpp = camera.metres_per_pixel
    if shadow:  # a dark grey ellipse, larger than the body, offset (as the simulator draws it)
        for p in persons:
            sh = _poly(camera, _ellipse_pts(p.x + 0.10, p.y - 0.07, 0.55 * p.width_m, 0.6 * p.depth_m, p.heading))
            cv2.fillPoly(img, [sh], (60, 62, 66), lineType=cv2.LINE_AA, shift=shift)
    for p in persons:
        if p.hand is not None:  # sleeve from the shoulder towards the hand, then the hand (skin)
            d = np.array(p.hand) - (p.x, p.y)
            sh = np.array([p.x, p.y]) + d / max(1e-6, float(np.linalg.norm(d))) * 0.45 * p.width_m / 2
            a = _poly(camera, np.array([sh, list(p.hand)]))
            cv2.line(img, tuple(a[0]), tuple(a[1]), tuple(int(c * 0.8) for c in p.colour),
                     max(1, int(round(p.arm_width_m / mpp))), cv2.LINE_AA, shift)
            cv2.circle(img, tuple(a[1]), int(0.045 / mpp * 16), (140, 170, 215), -1, cv2.LINE_AA, shift)
            if p.item is not None:
                half = int(0.05 / mpp * 16)
                cv2.rectangle(img, (int(a[1][0]) - half, int(a[1][1]) - half),
                              (int(a[1][0]) + half, int(a[1][1]) + half), p.item, -1, cv2.LINE_AA, shift)
        body = _poly(camera, _ellipse_pts(p.x, p.y, p.width_m / 2, p.depth_m / 2, p.heading))
        cv2.fillPoly(img, [body], p.colour, lineType=cv2.LINE_AA, shift=shift)
        head = camera.floor_to_image([p.x, p.y])[0]
        cv2.circle(img, (int(head[0] * 16), int(head[1] * 16)), int(0.1 / mpp * 16), (30, 25, 20), -1,
                   cv2.LINE_AA, shift)
    if gain != 1.0:
        img = np.clip(img.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    if noise_sigma > 0:
        rng = np.random.default_rng(seed)
        img = np.clip(img + rng.normal(0, noise_sigma, img.shape), 0, 255).astype(np.uint8)
    return img
