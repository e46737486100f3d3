"""Overhead camera frames, drawn top-down in the floor plane through each camera's homography.

Simplification: everything is drawn in the floor plane (``camera.floor_to_image``), so there is no
parallax (a head is drawn where the feet are). A person is a shadow, a body ellipse (shoulders
across the heading) in a clothing colour, a head circle, and when reaching an arm (thick line from
the shoulder to the hand) with a hand. The background (floor tiles and texture, shelves seen from
above with product colour patches whose fill follows the lane's stock) is cached and redrawn only
when a visible lane's stock changes. Per frame: global lighting gain, sensor noise from a
precomputed noise bank, then JPEG encoding (BGR internally).
"""
from __future__ import annotations

import math
import zlib

import cv2
import numpy as np

from walkout_core.layout import Camera, Layout
from walkout_core.sim.scenario import SensorSpec
from walkout_core.sim.world import Person

__all__ = ['CameraRenderer', 'product_colour']

NOISE_BANK = 12          # [frames] precomputed noise images per camera
SHADOW_OFFSET_M = np.array([0.10, -0.07])
SKIN = (140, 170, 215)   # BGR
ITEM_HALF_M = 0.05       # [m] half the side of a product held in a hand, seen from above


def product_colour(product_id: str) -> tuple[int, int, int]:
    """A stable BGR colour per product (a hash, not the scenario generator)."""
    h = zlib.crc32(product_id.encode())
    hsv = np.uint8([[[h % 180, 120 + (h >> 8) % 136, 110 + (h >> 16) % 146]]])
    return tuple(int(x) for x in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


class CameraRenderer:
    def __init__(self, cam: Camera, layout: Layout, spec: SensorSpec, rng: np.random.Generator):
        self.cam = cam
        self.layout = layout
        self.spec = spec
        self.h, self.w = cam.height, cam.width
        self.ppm = 1.0 / cam.metres_per_pixel          # [px/m]
        self.hinv = cam.inverse_homography
        fx0, fy0, fx1, fy1 = cam.footprint.bounds
        self.bounds = (fx0 - 1.0, fy0 - 1.0, fx1 + 1.0, fy1 + 1.0)
        self.light_phase = rng.uniform(0, 2 * np.pi, 2)
        self.floor_bg = self._floor(rng)
        # seen from above, only the top board of a stack of shelves is visible
        top: dict[tuple, object] = {}
        for s in layout.shelves:
            if self._visible(s.footprint.bounds):
                k = (round(s.x, 3), round(s.y, 3), round(s.yaw, 3), s.length, s.depth)
                if k not in top or s.z > top[k].z:
                    top[k] = s
        self.shelves = sorted(top.values(), key=lambda s: s.z)
        self.geometry: list[tuple] | None = None
        self.lane_keys = {(s.id, i) for s in self.shelves for i in range(len(s.lanes))}
        sigma = spec.image_noise_sigma
        self.noise = [np.round(rng.normal(0.0, sigma, (self.h, self.w, 3))).astype(np.int16)
                      for _ in range(NOISE_BANK)] if sigma > 0 else None
        self.bg: np.ndarray | None = None

    def _visible(self, b: tuple[float, float, float, float]) -> bool:
        x0, y0, x1, y1 = self.bounds
        return not (b[2] < x0 or b[0] > x1 or b[3] < y0 or b[1] > y1)

    def _img(self, xy: np.ndarray) -> np.ndarray:
        xy = np.atleast_2d(xy)
        h = np.hstack([xy, np.ones((xy.shape[0], 1))]) @ self.hinv.T
        return h[:, :2] / h[:, 2:3]

    def _floor(self, rng: np.random.Generator) -> np.ndarray:
        base = np.array([168, 176, 182], np.float32) * rng.uniform(0.92, 1.05)
        tex = cv2.resize(rng.normal(0, 1, (self.h // 8 + 1, self.w // 8 + 1)).astype(np.float32),
                         (self.w, self.h), interpolation=cv2.INTER_CUBIC)
        img = np.clip(base[None, None, :] + 6.0 * tex[..., None], 0, 255).astype(np.uint8)
        # tile grid lines every 0.6 m
        x0, y0, x1, y1 = self.bounds
        col = tuple(int(c) for c in base * 0.85)
        for x in np.arange(math.floor(x0 / 0.6) * 0.6, x1, 0.6):
            a, b = self._img(np.array([[x, y0], [x, y1]]))
            cv2.line(img, tuple(np.round(a).astype(int)), tuple(np.round(b).astype(int)), col, 1, cv2.LINE_AA)
        for y in np.arange(math.floor(y0 / 0.6) * 0.6, y1, 0.6):
            a, b = self._img(np.array([[x0, y], [x1, y]]))
            cv2.line(img, tuple(np.round(a).astype(int)), tuple(np.round(b).astype(int)), col, 1, cv2.LINE_AA)
        # vignetting
        yy, xx = np.mgrid[0:self.h, 0:self.w].astype(np.float32)
        r2 = ((xx - self.w / 2) / self.w) ** 2 + ((yy - self.h / 2) / self.h) ** 2
        return np.clip(img * (1.0 - 0.35 * r2)[..., None], 0, 255).astype(np.uint8)

    def _shelf_geometry(self) -> list[tuple]:
        """Image polygons of each visible shelf and its lanes (computed once)."""
        geo = []
        for s in self.shelves:
            a, n, c = s.axis, s.front_normal, np.array([s.x, s.y])
            back, front = -s.depth / 2 + 0.02, s.depth / 2 - 0.02
            lanes = []
            for ln in s.lanes:
                lo = -s.length / 2 + ln.index * s.lane_width + 0.02
                hi = lo + s.lane_width - 0.04
                mid = (lo + hi) / 2
                along = np.array([lo, hi, mid - 0.04, mid + 0.04])
                pts = np.concatenate([c + np.outer(along, a) + n * back, c + np.outer(along, a) + n * front])
                im = self._img(pts)                        # 0..3 back (lo, hi, lab_lo, lab_hi), 4..7 front
                col = product_colour(ln.product_id)
                lab = tuple(min(255, int(x * 1.4) + 30) for x in col)
                lanes.append(((s.id, ln.index), max(1, ln.initial_stock), im[:4], im[4:], col, lab))
            geo.append((self._img(s.footprint.array), lanes))
        return geo

    def _draw_shelves(self, stock: dict[tuple[str, int], int]) -> np.ndarray:
        img = self.floor_bg.copy()
        if self.geometry is None:
            self.geometry = self._shelf_geometry()

        def fill(pts: np.ndarray, colour) -> None:
            cv2.fillPoly(img, [np.round(pts * 16).astype(np.int32)], colour, lineType=cv2.LINE_AA, shift=4)
        for foot, lanes in self.geometry:
            fill(foot, (95, 100, 105))
            for key, initial, b, f, col, lab in lanes:
                fill(np.array([b[0], b[1], f[1], f[0]]), (70, 72, 76))
                frac = min(1.0, stock.get(key, 0) / initial)
                if frac > 0:
                    fr = b + (f - b) * frac
                    fill(np.array([b[0], b[1], fr[1], fr[0]]), col)
                    fill(np.array([b[2], b[3], fr[3], fr[2]]), lab)
        return img

    def invalidate(self, changed: set[tuple[str, int]]) -> None:
        if self.bg is not None and changed & self.lane_keys:
            self.bg = None

    def render(self, t: float, people: list[Person], stock: dict[tuple[str, int], int],
               rng: np.random.Generator, black: bool = False) -> np.ndarray:
        """One BGR frame at time ``t``."""
        if black:
            img = np.zeros((self.h, self.w, 3), np.uint8)
        else:
            if self.bg is None:
                self.bg = self._draw_shelves(stock)
            img = self.bg.copy()
            self._draw_people(img, people)
            sp = self.spec
            gain = 1.0 + sp.lighting_drift * (math.sin(2 * math.pi * t / sp.lighting_period_s + self.light_phase[0])
                                              + 0.4 * math.sin(2 * math.pi * t / (0.37 * sp.lighting_period_s)
                                                               + self.light_phase[1]))
            if abs(gain - 1.0) > 1e-3:
                img = cv2.convertScaleAbs(img, alpha=gain)
        if self.noise is not None:
            k = int(rng.integers(len(self.noise)))
            img = np.clip(img.astype(np.int16) + self.noise[k], 0, 255).astype(np.uint8)
        return img

    def _draw_people(self, img: np.ndarray, people: list[Person]) -> None:
        x0, y0, x1, y1 = self.bounds
        vis = [p for p in people if x0 <= p.pos[0] <= x1 and y0 <= p.pos[1] <= y1]
        if not vis:
            return
        ppm = self.ppm
        # all points in one homography call: centre, heading tip, shadow centre, shoulder, hand
        pts = []
        for p in vis:
            hd = np.array([math.cos(p.heading), math.sin(p.heading)])
            hand = p.hand if p.hand is not None else p.pos
            d = hand - p.pos
            nd = float(np.linalg.norm(d))
            shoulder = p.pos + (d / nd if nd > 1e-6 else hd) * p.radius * 0.45
            pts.extend([p.pos, p.pos + hd * 0.1, p.pos + SHADOW_OFFSET_M, shoulder, hand])
        ip = self._img(np.array(pts)).reshape(len(vis), 5, 2)
        sh = 4
        q = np.round(ip * (1 << sh)).astype(np.int64)
        for p, (c, tip, shd, _, _) in zip(vis, q, strict=True):
            ang = math.degrees(math.atan2(tip[1] - c[1], tip[0] - c[0])) + 90.0
            axes = (int(p.radius * 1.1 * ppm * 16), int(p.radius * 0.75 * ppm * 16))
            cv2.ellipse(img, (int(shd[0]), int(shd[1])), axes, ang, 0, 360, (60, 62, 66), -1, cv2.LINE_AA, sh)
        for p, (c, tip, _, shoulder, hand) in zip(vis, q, strict=True):
            ang = math.degrees(math.atan2(tip[1] - c[1], tip[0] - c[0])) + 90.0
            axes = (int(p.radius * ppm * 16), int(p.radius * 0.62 * ppm * 16))
            cv2.ellipse(img, (int(c[0]), int(c[1])), axes, ang, 0, 360, p.colour, -1, cv2.LINE_AA, sh)
            if p.hand is not None:
                sleeve = tuple(int(x * 0.8) for x in p.colour)
                cv2.line(img, (int(shoulder[0]), int(shoulder[1])), (int(hand[0]), int(hand[1])), sleeve,
                         max(1, int(round(0.08 * ppm))), cv2.LINE_AA, sh)
                cv2.circle(img, (int(hand[0]), int(hand[1])), int(0.045 * ppm * 16), SKIN, -1, cv2.LINE_AA, sh)
                if p.hand_item:     # a product in the hand, seen from above: a box in the product's colour
                    half = int(ITEM_HALF_M * ppm * 16)
                    cv2.rectangle(img, (int(hand[0]) - half, int(hand[1]) - half),
                                  (int(hand[0]) + half, int(hand[1]) + half), product_colour(p.hand_item), -1,
                                  cv2.LINE_AA, sh)
            cv2.circle(img, (int(c[0]), int(c[1])), int(0.1 * ppm * 16), p.hair, -1, cv2.LINE_AA, sh)
