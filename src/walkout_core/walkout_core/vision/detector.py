"""Overhead person detection (no ROS): the detector interface and the background-model backend.

Cameras look straight down. A person is a body blob (clothes, head, seen from above); an
extended arm is a thin protrusion attached to it whose far end is the hand. Pipeline of
:class:`BackgroundDetector` for one frame:

1. sanity: size, black frame (dead camera), bit-identical frames (frozen camera);
2. lighting: the background model is scaled by the frame/background brightness ratio measured on
   the pixels that were background in the previous frame (gain compensation);
3. foreground: any channel differs from the background by more than ``diff_threshold``; pixels
   darker than the background with the same chromaticity are shadow;
4. morphology: opening (noise), closing (holes); an opening wider than an arm gives the bodies;
5. bodies: connected components; components on shelves or too small are clutter; large ones
   (people standing close) are split at their heads (a disc whose colour differs from the ring of
   blob pixels around it), else at the peaks of their distance transform;
6. arms: the hand is the farthest foreground pixel beyond the body's core joined to the body
   centre by a straight run of foreground (an arm); a crossed neighbour's hand is not, nor the
   edge of a shadow (a candidate among shadow pixels); its colour is taken off the shelves;
7. floor: body centroids and hands through the camera's homography;
8. background update, selective: fast on background, slow on clutter (restocked shelves),
   almost nil under people (someone standing still for minutes stays foreground).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Protocol

import cv2
import numpy as np

from walkout_core.vision.config import DetectorConfig

__all__ = ['Detection', 'FrameDetections', 'PersonDetector', 'BackgroundDetector', 'shelf_mask',
           'make_detector', 'odd_kernel']


def _colour_mode(px: np.ndarray, start: np.ndarray, radius: float, min_pixels: int,
                 max_iter: int = 5) -> np.ndarray:
    """Mean shift with a flat kernel: from ``start``, the mean of the pixels (N, 3) within ``radius``
    (colour distance), repeated until it moves less than a grey level; stops early when fewer than
    ``min_pixels`` are within reach (the start is then kept)."""
    m = np.asarray(start, dtype=np.float32)
    for _ in range(max_iter):
        near = px[np.einsum('ij,ij->i', px - m, px - m) <= radius * radius]
        if len(near) < min_pixels:
            break
        new = near.mean(axis=0)
        done = float(np.abs(new - m).max()) < 1.0
        m = new
        if done:
            break
    return m


@dataclass(frozen=True)
class Detection:
    """One person seen by one camera: floor frame (metres) and image frame (pixels)."""

    x: float                      # [m]
    y: float                      # [m]
    sigma_m: float                # [m] 1-sigma position error
    radius_m: float               # [m] radius of the body blob
    area_m2: float                # [m^2]
    confidence: float             # [0..1]
    has_reach: bool = False
    reach_x: float = math.nan     # [m] hand, when has_reach
    reach_y: float = math.nan     # [m]
    u: float = math.nan           # [px] body centre in the image
    v: float = math.nan           # [px]
    reach_u: float = math.nan     # [px]
    reach_v: float = math.nan     # [px]
    # [0..1] RGB body (clothing) colour under reference lighting, None when unknown; for
    # re-association during the visit only (the tracker never stores it past the visit)
    appearance: tuple[float, float, float] | None = None
    # [0..1] RGB at the hand under reference lighting (what the hand holds), None when not measured
    hand_rgb: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class FrameDetections:
    """A detector's answer for one frame."""

    camera_ok: bool
    detections: tuple[Detection, ...] = ()
    reason: str = ''              # why the frame is unusable ('' when camera_ok)
    stats: dict = field(default_factory=dict)


class PersonDetector(Protocol):
    """What every backend offers (background model, ONNX)."""

    def detect(self, image: np.ndarray, stamp_s: float) -> FrameDetections:
        """One frame (H, W, 3) or (H, W) uint8 captured at ``stamp_s`` -> detections."""

    def reset(self) -> None:
        """Forget the state (background model, frozen-frame counter)."""


def _nonzero(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ys, xs) of the non-zero pixels of a uint8 mask, in np.nonzero's (row-major) order, through
    cv2.findNonZero (several times faster on small frames)."""
    pts = cv2.findNonZero(mask)
    if pts is None:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    pts = pts.reshape(-1, 2)
    return pts[:, 1], pts[:, 0]


#: the 3x3 neighbourhood of the local-maximum prefilter
_K3 = np.ones((3, 3), np.uint8)
#: above this many 3x3 maxima (a plateau) one dilation of the whole map is cheaper than the per-candidate loop;
#: both give the same pixels, so this changes time only
_MAX_LOOP_MAXIMA = 32


def _local_maxima(score: np.ndarray, where: np.ndarray, kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ys, xs) of the ``where`` pixels whose float32 ``score`` is within 1e-3 of its maximum over ``kernel``
    (``score >= cv2.dilate(score, kernel) - 1e-3``), in row-major order. A maximum over the kernel is one over
    its 3x3 centre too, so the 3x3 test (a fast rectangular dilation) picks the few candidates and the whole
    kernel is applied at those only: the same pixels as the full dilation."""
    kh, kw = kernel.shape
    if kh < 3 or kw < 3 or not kernel[kh // 2 - 1:kh // 2 + 2, kw // 2 - 1:kw // 2 + 2].all():
        return np.nonzero((score >= cv2.dilate(score, kernel) - 1e-3) & where)
    ys, xs = np.nonzero((score >= cv2.dilate(score, _K3) - 1e-3) & where)
    if ys.size > _MAX_LOOP_MAXIMA:     # a plateau: one dilation costs less than the loop
        return np.nonzero((score >= cv2.dilate(score, kernel) - 1e-3) & where)
    ry, rx = kh // 2, kw // 2
    inside = kernel.astype(bool)
    keep = np.zeros(ys.size, bool)
    for n, (y, x) in enumerate(zip(ys.tolist(), xs.tolist())):    # a few per blob: a loop beats array set-up
        y0, x0 = max(0, y - ry), max(0, x - rx)
        win = score[y0:y + ry + 1, x0:x + rx + 1]
        k = inside[y0 - y + ry:y0 - y + ry + win.shape[0], x0 - x + rx:x0 - x + rx + win.shape[1]]
        keep[n] = score[y, x] >= win[k].max() - np.float32(1e-3)
    return ys[keep], xs[keep]


def odd_kernel(size_m: float, mpp: float) -> int:
    """Kernel size in pixels (odd, >= 1) of a length in metres."""
    k = int(round(size_m / mpp))
    return max(1, k | 1)


def shelf_mask(camera, shelves: Iterable) -> np.ndarray:
    """uint8 (H, W) mask of the image pixels whose floor point is under a shelf footprint."""
    mask = np.zeros((camera.height, camera.width), np.uint8)
    for s in shelves:
        px = camera.floor_to_image(s.footprint.array)
        cv2.fillPoly(mask, [np.round(px).astype(np.int32)], 1)
    return mask


class _FrameGuard:
    """Black and frozen frame detection shared by the backends."""

    def __init__(self, cfg: DetectorConfig, width: int, height: int):
        self.cfg, self.width, self.height = cfg, width, height
        self._prev: np.ndarray | None = None
        self._same = 0

    def reset(self) -> None:
        self._prev, self._same = None, 0

    def check(self, image: np.ndarray) -> str:
        """'' when usable, else the reason."""
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
            return f'not a uint8 image array: {type(image).__name__} {getattr(image, "dtype", "")}'
        if image.shape[0] != self.height or image.shape[1] != self.width:
            return f'frame size {image.shape[1]}x{image.shape[0]} differs from the camera {self.width}x{self.height}'
        if image.ndim == 3 and image.shape[2] not in (1, 3):
            return f'{image.shape[2]} channels (expected 1 or 3)'
        if float(image[::4, ::4].mean()) < self.cfg.black_level:
            return 'black frame'
        if self._prev is not None and np.array_equal(image, self._prev):
            self._same += 1
        else:
            self._same = 0
        self._prev = image.copy()
        if self._same + 1 >= self.cfg.frozen_frames:
            return f'frozen: {self._same + 1} identical frames'
        return ''


class BackgroundDetector:
    """Background-model person detector for one overhead camera."""

    def __init__(self, camera, cfg: DetectorConfig | None = None, clutter_mask: np.ndarray | None = None):
        self.camera = camera
        self.cfg = cfg or DetectorConfig()
        self.width, self.height = int(camera.width), int(camera.height)
        self.mpp = float(camera.metres_per_pixel)
        c, a = self.cfg, self.mpp * self.mpp
        self._k_noise = cv2.getStructuringElement(cv2.MORPH_RECT, (odd_kernel(c.noise_kernel_m, self.mpp),) * 2)
        self._k_close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (odd_kernel(c.close_kernel_m, self.mpp),) * 2)
        self._k_arm = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (odd_kernel(c.arm_kernel_m, self.mpp),) * 2)
        self._k_grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (odd_kernel(c.close_kernel_m, self.mpp) + 2,) * 2)
        self._min_area_px = c.min_person_area_m2 / a
        self._split_area_px = c.split_area_factor * c.person_area_m2 / a
        self._min_r_px = c.min_body_radius_m / self.mpp
        self._min_sep_px = c.min_person_separation_m / self.mpp
        k_sep = odd_kernel(c.min_person_separation_m, self.mpp)
        self._k_peak = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k_sep, k_sep))
        # head test: mean colour of a disc inside the head against the ring of blob pixels just outside it
        r_head = c.head_radius_m / self.mpp
        r_out = r_head + 1.0 + c.head_ring_m / self.mpp
        # squares of the same areas as the disc (radius r_head - 1 px), the head with a pixel's margin and the
        # ring's outer circle: box sums are O(1) per pixel where disc kernels cost a convolution each
        self._head_boxes = tuple(max(1, int(round(math.sqrt(math.pi) * r)) | 1)
                                 for r in (max(1.0, r_head - 1.0), r_head + 1.0, r_out))
        self._head_pad = self._head_boxes[-1] // 2      # the reach of the largest square
        self._head_sep_px = 2.0 * r_head     # two heads do not overlap
        self._k_head = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (odd_kernel(2.0 * c.head_radius_m, self.mpp),) * 2)
        self._arm_in_px = c.arm_min_reach_m / self.mpp
        self._arm_out_px = c.arm_min_protrusion_m / self.mpp
        self._through_px = c.arm_through_body_m / self.mpp
        self._shared_px = c.hand_shared_m / self.mpp
        self._hand_px = c.hand_offset_m / self.mpp
        self._max_arm_len_px = c.max_arm_length_m / self.mpp
        self._clutter = (clutter_mask.astype(bool) if clutter_mask is not None
                         else np.zeros((self.height, self.width), bool))
        self._shelf_u8 = self._clutter.astype(np.uint8)
        k_deep = odd_kernel(2.0 * c.hand_max_shelf_depth_m, self.mpp)
        self._deep_shelf = cv2.erode(self._shelf_u8, cv2.getStructuringElement(cv2.MORPH_RECT, (k_deep, k_deep)))
        self._guard = _FrameGuard(c, self.width, self.height)
        # appearance: an annulus around the body centre (without the head), on the eroded body blob
        r_app = max(1, int(round(c.appearance_radius_m / self.mpp)))
        yy, xx = np.mgrid[-r_app:r_app + 1, -r_app:r_app + 1]
        rr = np.hypot(xx, yy)
        self._ring = ((rr <= r_app) & (rr > c.appearance_head_radius_m / self.mpp)).astype(np.uint8)
        self._ring_r = r_app
        r_hand = max(1, int(round(c.hand_colour_radius_m / self.mpp)))
        yy, xx = np.mgrid[-r_hand:r_hand + 1, -r_hand:r_hand + 1]
        self._hand_disc = (np.hypot(xx, yy) <= r_hand + 0.5).astype(np.uint8)
        self._hand_r = r_hand
        self._shadow_half = max(0, int(round(math.sqrt(math.pi) * c.hand_colour_radius_m / self.mpp / 2.0)))
        self._shadow_area = float((2 * self._shadow_half + 1) ** 2)
        self._k_edge = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
        self._steps: dict[int, np.ndarray] = {}
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        self._bg: np.ndarray | None = None
        self._bg_px: np.ndarray | None = None  # previous frame's background pixels (bool)
        self._last_t: float | None = None
        self._guard.reset()
        self.last_foreground: np.ndarray | None = None
        self._shadow = np.zeros((self.height, self.width), np.uint8)
        self.gain = np.ones(3, np.float32)

    @property
    def background(self) -> np.ndarray | None:
        return self._bg

    # ------------------------------------------------------------------ per frame
    def detect(self, image: np.ndarray, stamp_s: float) -> FrameDetections:
        reason = self._guard.check(image)
        if reason:
            return FrameDetections(False, (), reason)
        if not math.isfinite(stamp_s):
            return FrameDetections(False, (), f'stamp {stamp_s!r} is not finite')
        f = image if image.ndim == 3 and image.shape[2] == 3 else (image if image.ndim == 2 else image[:, :, 0])
        if self._bg is None or self._bg.shape != f.shape:
            self._bg = f.astype(np.float32)
            self._bg_px = np.ones(f.shape[:2], np.uint8)
            self._last_t = stamp_s
            return FrameDetections(True, (), '', {'initialised': True})
        dt = stamp_s - self._last_t if self._last_t is not None else 0.0
        dt = max(0.0, dt)
        self._last_t = max(stamp_s, self._last_t or stamp_s)
        self._compensate_gain(f)
        fg = self._foreground(f)
        # nobody stands on a shelf: shelf pixels (stock changes, arms over the shelf) are never body
        body = cv2.morphologyEx(cv2.subtract(fg, self._shelf_u8) if self.cfg.shelves_are_not_body else fg,
                                cv2.MORPH_OPEN, self._k_arm)
        n, labels, stats, cents = cv2.connectedComponentsWithStatsWithAlgorithm(body, 8, cv2.CV_32S, cv2.CCL_BBDT)
        persons = self._bodies(f, n, labels, stats, cents)
        person_lut = np.zeros(n, np.uint8)
        for p in persons:
            person_lut[p['label']] = 1
        person_px = person_lut[labels]
        hands = self._arms(fg, person_px.copy(), persons, person_px)
        looks = self._appearance(f, body, labels, persons)
        held = self._hand_colours(f, fg, hands)
        self._update_background(f, fg, person_px, dt)
        self.last_foreground = fg
        return FrameDetections(True, self._to_floor(persons, hands, looks, held), '',
                               {'foreground_px': int(np.count_nonzero(fg)), 'gain': float(np.mean(self.gain))})

    # ------------------------------------------------------------------ steps
    def _compensate_gain(self, f: np.ndarray) -> None:
        if not self.cfg.gain_compensation:
            return
        if cv2.countNonZero(self._bg_px) < 200:
            return
        nch = 1 if f.ndim == 2 else f.shape[2]
        mf = np.array(cv2.mean(f, mask=self._bg_px)[:nch])
        mb = np.array(cv2.mean(self._bg, mask=self._bg_px)[:nch])
        g = np.clip(mf / np.maximum(mb, 1e-3), 1.0 / self.cfg.gain_limit, self.cfg.gain_limit).astype(np.float32)
        self.gain = g
        if np.any(np.abs(g - 1.0) > 2e-3):  # below: noise, the slow update follows
            cv2.multiply(self._bg, tuple(float(v) for v in g) + (1.0,) * (4 - nch), dst=self._bg)
        else:
            self.gain = np.ones(nch, np.float32)

    def _foreground(self, f: np.ndarray) -> np.ndarray:
        c = self.cfg
        diff = cv2.absdiff(f, cv2.convertScaleAbs(self._bg))
        if diff.ndim == 3:
            ch = cv2.split(diff)
            d = cv2.max(cv2.max(ch[0], ch[1]), ch[2])
        else:
            d = diff
        fg = cv2.threshold(d, c.diff_threshold, 1, cv2.THRESH_BINARY)[1]
        self._shadow[:] = 0
        if c.shadow_suppression and f.ndim == 3:
            ys, xs = _nonzero(fg)
            if ys.size:
                flat = ys * self.width + xs     # np.take on flat pixel indices: several times faster than f[ys, xs]
                pf = f.reshape(-1, 3).take(flat, axis=0).astype(np.float32)
                pb = self._bg.reshape(-1, 3).take(flat, axis=0)
                sf = pf[:, 0] + pf[:, 1] + pf[:, 2] + 1e-3
                sb = pb[:, 0] + pb[:, 1] + pb[:, 2] + 1e-3
                # brightness ratio first (cheap), then chromaticity |pf/sf - pb/sb| <= tol per channel,
                # written without divisions: |pf*sb - pb*sf| <= tol*sf*sb
                k = np.flatnonzero((sf >= c.shadow_min_ratio * sb) & (sf <= c.shadow_max_ratio * sb))
                if k.size:
                    pf, pb, sf, sb = pf[k], pb[k], sf[k, None], sb[k, None]
                    ok = np.abs(pf * sb - pb * sf) <= c.shadow_chroma_tol * (sf * sb)
                    k = flat[k[ok[:, 0] & ok[:, 1] & ok[:, 2]]]
                    fg.reshape(-1)[k] = 0
                    self._shadow.reshape(-1)[k] = 1
        if self._k_noise.shape[0] > 1:
            fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, self._k_noise)
        if self._k_close.shape[0] > 1:
            fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, self._k_close)
        return fg

    def _bodies(self, f: np.ndarray, n: int, labels: np.ndarray, stats: np.ndarray, cents: np.ndarray
                ) -> list[dict]:
        out = []
        b = self.cfg.border_margin_px
        for i in range(1, n):
            x, y, w, h, area = (int(v) for v in stats[i])
            if area < self._min_area_px:
                continue
            cx, cy = cents[i]
            if self._clutter[min(int(cy), self.height - 1), min(int(cx), self.width - 1)]:
                sub = labels[y:y + h, x:x + w] == i
                if np.count_nonzero(self._clutter[y:y + h, x:x + w] & sub) > 0.5 * area:
                    continue
            cut = x <= b or y <= b or x + w >= self.width - b or y + h >= self.height - b
            if not cut and min(w, h) < 2.0 * self._min_r_px + 2:
                continue  # thinner than a body (crossed arms, a cart handle)
            if not cut and area < self._split_area_px:
                sub = (labels[y:y + h, x:x + w] == i).astype(np.uint8)
                inner = cv2.distanceTransform(cv2.copyMakeBorder(sub, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0),
                                              cv2.DIST_L2, 3)
                if float(inner.max()) < self._min_r_px:
                    continue
            parts = self._split(f, labels, i, x, y, w, h) if area > self._split_area_px else None
            if not parts:
                parts = [(float(cx), float(cy), float(area))]
            for (u, v, a) in parts:
                out.append({'label': i, 'u': u, 'v': v, 'area': a, 'cut': cut})
        return out

    def _split(self, f: np.ndarray, labels: np.ndarray, i: int, x: int, y: int, w: int, h: int
               ) -> list[tuple[float, float, float]] | None:
        """One large blob -> [(u, v, area_px)] per person, or None (one person). The people are its heads
        (:meth:`_heads`) when two or more are seen (each person is where its head is), else the peaks of its
        distance transform (each person is the centroid of its pixels); each blob pixel goes to the nearest
        (less that person's inscribed radius)."""
        sub = (labels[y:y + h, x:x + w] == i).astype(np.uint8)
        dist = cv2.distanceTransform(cv2.copyMakeBorder(sub, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0),
                                     cv2.DIST_L2, 5)[1:-1, 1:-1]
        deep = dist >= self._min_r_px
        peaks = self._heads(f, labels, i, deep, x, y, w, h) if self.cfg.head_split_contrast > 0 else []
        at_heads = len(peaks) >= 2
        if not at_heads:
            peaks = self._separated_peaks(dist, deep, self._min_sep_px, self._k_peak)
        if len(peaks) < 2:
            return None
        py_, px_ = _nonzero(sub)
        P = np.array(peaks, float)
        r = dist[P[:, 1].astype(int), P[:, 0].astype(int)]
        d = np.hypot(px_[:, None] - P[None, :, 0], py_[:, None] - P[None, :, 1]) - r[None, :]
        owner = np.argmin(d, axis=1)
        out = []
        for k in range(len(peaks)):
            m = owner == k
            if np.count_nonzero(m) < self._min_area_px:
                continue
            u, v = peaks[k] if at_heads else (float(px_[m].mean()), float(py_[m].mean()))
            out.append((float(u) + x, float(v) + y, float(np.count_nonzero(m))))
        return out if len(out) >= 2 else None

    def _separated_peaks(self, score: np.ndarray, where: np.ndarray, sep_px: float, kernel: np.ndarray
                         ) -> list[tuple[int, int]]:
        """Local maxima of ``score`` inside ``where`` (within ``kernel``, among ``where`` pixels), best first, each
        at least ``sep_px`` from every better one -> [(u, v)] in the crop."""
        bx, by, bw, bh = cv2.boundingRect(where.view(np.uint8))
        if bw == 0:
            return []
        # the dilation only matters within the kernel's reach of ``where``: crop to its box grown by that reach
        ry, rx = kernel.shape[0] // 2, kernel.shape[1] // 2
        x0, y0 = max(0, bx - rx), max(0, by - ry)
        crop = (slice(y0, by + bh + ry), slice(x0, bx + bw + rx))
        where = where[crop]
        score = np.where(where, score[crop], 0).astype(np.float32)
        ys, xs = _local_maxima(score, where, kernel)
        peaks: list[tuple[int, int]] = []
        for k in np.argsort(-score[ys, xs]):     # row-major order as in the whole map: the same ties
            py, px = int(ys[k]) + y0, int(xs[k]) + x0
            if all((px - qx) ** 2 + (py - qy) ** 2 >= sep_px ** 2 for qx, qy in peaks):
                peaks.append((px, py))
        return peaks

    def _heads(self, f: np.ndarray, labels: np.ndarray, i: int, deep: np.ndarray, x: int, y: int, w: int, h: int
               ) -> list[tuple[int, int]]:
        """Heads in blob ``i``: where the mean colour of a disc of head_radius_m deep in the blob differs by
        head_split_contrast or more from the mean colour of the blob's pixels in the ring around it (hair
        against shoulders, seen from above; the floor around a body's end is no head); disc and ring as squares of
        the same areas -> [(u, v)] in the blob's box, most contrasted first."""
        ys, xs = _nonzero(deep.astype(np.uint8))
        if ys.size == 0:
            return []
        # only deep pixels can be heads: the test runs on their box (grown by the ring) instead of the blob's
        dy0, dy1, dx0, dx1 = y + int(ys.min()), y + int(ys.max()) + 1, x + int(xs.min()), x + int(xs.max()) + 1
        p = self._head_pad
        x0, y0 = max(0, dx0 - p), max(0, dy0 - p)
        x1, y1 = min(self.width, dx1 + p), min(self.height, dy1 + p)
        mask = (labels[y0:y1, x0:x1] == i).astype(np.float32)
        crop = f[y0:y1, x0:x1].astype(np.float32)
        if crop.ndim == 2:
            crop = crop[:, :, None]
        # the blob's pixels (colour channels) and their count (last channel), summed by one box filter per square
        stack = np.ascontiguousarray(np.concatenate([crop * mask[:, :, None], mask[:, :, None]], axis=2))
        inner, mid, outer = (cv2.boxFilter(stack, cv2.CV_32F, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT)
                             for k in self._head_boxes)
        box = (slice(dy0 - y0, dy1 - y0), slice(dx0 - x0, dx1 - x0))    # the deep pixels' box
        inner, ring = inner[box], outer[box] - mid[box]
        diff = inner[:, :, :-1] / np.maximum(inner[:, :, -1:], 1.0) - ring[:, :, :-1] / np.maximum(ring[:, :, -1:], 1.0)
        con = np.zeros((h, w), np.float32)
        con[dy0 - y:dy1 - y, dx0 - x:dx1 - x] = np.sqrt((diff * diff).sum(axis=2))
        return self._separated_peaks(con, deep & (con >= self.cfg.head_split_contrast), self._head_sep_px,
                                     self._k_head)

    def _arms(self, fg: np.ndarray, body: np.ndarray, persons: list[dict], person_px: np.ndarray
              ) -> dict[int, tuple[float, float]]:
        """Person index -> hand pixel (u, v) for persons with an extended arm.

        ``body``: the accepted body blobs. Hand candidates are foreground pixels off the bodies, outside
        every person's core disc (``arm_min_reach_m`` around its centre) and within ``max_arm_length_m``;
        the hand is the farthest candidate joined to the person's centre by a straight run of foreground
        (``arm_coverage``) that sticks out of the body blob by ``arm_min_protrusion_m`` and passes no nearer
        than ``arm_through_body_m`` to another person's centre. A crossed neighbour's hand, or a
        neighbour's body merged into the blob, is not on such a run.
        """
        if not persons:
            return {}
        reach = self._max_arm_len_px
        centres = np.array([[p['u'], p['v']] for p in persons])
        ox, oy = max(0, int(centres[:, 0].min() - reach)), max(0, int(centres[:, 1].min() - reach))
        ex = min(self.width, int(centres[:, 0].max() + reach) + 1)
        ey = min(self.height, int(centres[:, 1].max() + reach) + 1)
        core = np.zeros((ey - oy, ex - ox), np.uint8)
        r_in = int(round(self._arm_in_px))
        for u, v in centres:
            cv2.circle(core, (int(round(u)) - ox, int(round(v)) - oy), r_in, 1, -1)
        out = cv2.subtract(cv2.subtract(fg[oy:ey, ox:ex], body[oy:ey, ox:ex]), core)
        out = cv2.subtract(out, self._deep_shelf[oy:ey, ox:ex])  # a hand reaches the front of a shelf only
        ys, xs = _nonzero(out)
        if xs.size == 0:
            return {}
        # an arm grows out of its body: candidates are in the foreground blob of the person's centre
        # (another blob farther away, e.g. someone cut by the image border, must not crowd the arm out)
        _, blob = cv2.connectedComponents(fg[oy:ey, ox:ex], connectivity=8, ltype=cv2.CV_32S)
        cand_blob = blob[ys, xs]
        cu_i = np.clip(np.rint(centres[:, 0]).astype(int) - ox, 0, ex - ox - 1)
        cv_i = np.clip(np.rint(centres[:, 1]).astype(int) - oy, 0, ey - oy - 1)
        own_blob = blob[cv_i, cu_i]
        # shadow pixels in the square of the hand disc's area around every pixel of the crop (clipped at its
        # edges), one box sum per frame: a shadow's edge that escaped shadow suppression is no hand
        shadow_sum = self._shadow_sums(ox, oy, ex, ey) if self.cfg.hand_max_shadow_share < 1.0 else None
        xs, ys = xs + ox, ys + oy
        d = np.hypot(xs[:, None] - centres[None, :, 0], ys[:, None] - centres[None, :, 1])
        hands: dict[int, tuple[float, float]] = {}
        near_others = None
        if self._through_px > 0 and len(persons) > 1:
            cd = np.hypot(centres[:, None, 0] - centres[None, :, 0], centres[:, None, 1] - centres[None, :, 1])
            near_others = (cd <= reach + self._through_px) & ~np.eye(len(persons), dtype=bool)
        for k in range(len(persons)):
            near = d[:, k] <= reach
            if own_blob[k]:         # (a centre pixel off the foreground leaves every blob in)
                near &= cand_blob == own_blob[k]
            cand = np.nonzero(near)[0]
            if cand.size == 0:
                continue
            cand = cand[np.argsort(-d[cand, k])][:self.cfg.arm_candidates]
            cu, cv_ = centres[k]
            hx, hy = xs[cand].astype(float), ys[cand].astype(float)
            steps = max(2, int(d[cand[0], k]))
            ts = self._run_steps(steps)
            su = np.clip(np.rint(cu + (hx[:, None] - cu) * ts), 0, self.width - 1).astype(np.intp)
            sv = np.clip(np.rint(cv_ + (hy[:, None] - cv_) * ts), 0, self.height - 1).astype(np.intp)
            cover = fg[sv, su].mean(axis=1)
            # how far the hand sticks out beyond the body blob along the run (slivers at a body's edge,
            # or a merged neighbour's body, do not)
            inb = body[sv, su] != 0
            last = np.where(inb.any(axis=1), steps - 1 - np.argmax(inb[:, ::-1], axis=1), 0)
            beyond = d[cand, k] * (1.0 - last / (steps - 1))
            ok = (cover >= self.cfg.arm_coverage) & (beyond >= self._arm_out_px)
            if shadow_sum is not None:
                share = shadow_sum[ys[cand] - oy, xs[cand] - ox].astype(np.float64) / self._shadow_area
                ok &= share <= self.cfg.hand_max_shadow_share
            if near_others is not None and ok.any():
                # an arm does not pass through another person's torso: that run is the neighbour's body
                others = centres[near_others[k]]
                if len(others):
                    t = np.nonzero(ok)[0]     # only runs that pass the other tests can be the hand
                    gap = np.hypot(su[t, :, None] - others[None, None, :, 0], sv[t, :, None] - others[None, None, :, 1])
                    ok[t] = gap.min(axis=(1, 2)) >= self._through_px
            good = np.nonzero(ok)[0]
            if good.size == 0:
                continue
            g = int(good[0])
            dist = float(d[cand[g], k])
            pull = min(self._hand_px, dist - self._arm_in_px)
            hands[k] = (cu + (hx[g] - cu) * (dist - pull) / dist, cv_ + (hy[g] - cv_) * (dist - pull) / dist)
        if self._shared_px > 0 and len(hands) > 1:
            # one hand, two claimants: the one whose body is nearer has its body edge next to the other's hand
            ks = sorted(hands)
            for i, k in enumerate(ks):
                for j in ks[i + 1:]:
                    if k in hands and j in hands and math.dist(hands[k], hands[j]) < self._shared_px:
                        dk, dj = (math.dist(hands[m], centres[m]) for m in (k, j))
                        del hands[k if dk < dj else j]
        if hands:  # keep the arms out of the background
            near = (d.min(axis=1) <= reach)
            person_px[ys[near], xs[near]] = 1
        return hands

    def _run_steps(self, steps: int) -> np.ndarray:
        """``np.linspace(0, 1, steps)`` as a row, cached per length."""
        ts = self._steps.get(steps)
        if ts is None:
            ts = self._steps[steps] = np.linspace(0.0, 1.0, steps)[None, :]
        return ts

    def _shadow_sums(self, ox: int, oy: int, ex: int, ey: int) -> np.ndarray:
        """Shadow pixels in the square of the hand disc's area (``hand_colour_radius_m``) around each pixel of the
        crop [oy:ey, ox:ex], counted inside the crop only (float32, exact for counts)."""
        k = 2 * self._shadow_half + 1
        return cv2.boxFilter(self._shadow[oy:ey, ox:ex], cv2.CV_32F, (k, k), normalize=False,
                             borderType=cv2.BORDER_CONSTANT)

    def _appearance(self, f: np.ndarray, body: np.ndarray, labels: np.ndarray, persons: list[dict]
                    ) -> list[tuple[float, float, float] | None]:
        """Per person the mean clothing colour (RGB, 0..1) under reference lighting, or None.

        Pixels: the person's body blob eroded by one pixel (no anti-aliased edge, no shadow: shadow is
        not foreground), within ``appearance_radius_m`` of its centre and outside the head disc. Lighting:
        the mean is divided per channel by the background model at the same pixels (the floor under the
        person, which follows the global gain), times ``appearance_reference_grey``.
        """
        c = self.cfg
        if f.ndim != 3 or not persons or not c.appearance:
            return [None] * len(persons)
        core = cv2.erode(body, self._k_edge)
        r, ring = self._ring_r, self._ring
        out: list[tuple[float, float, float] | None] = []
        for p in persons:
            u, v = int(round(p['u'])), int(round(p['v']))
            x0, y0 = max(0, u - r), max(0, v - r)
            x1, y1 = min(self.width, u + r + 1), min(self.height, v + r + 1)
            if x1 <= x0 or y1 <= y0:
                out.append(None)
                continue
            rg = ring[y0 - (v - r):y1 - (v - r), x0 - (u - r):x1 - (u - r)]
            own = labels[y0:y1, x0:x1] == p['label']
            mask = (own & (core[y0:y1, x0:x1] != 0)).view(np.uint8) & rg
            if cv2.countNonZero(mask) < c.appearance_min_pixels:
                mask = own.view(np.uint8) & rg
                if cv2.countNonZero(mask) < c.appearance_min_pixels:
                    out.append(None)
                    continue
            mf = cv2.mean(f[y0:y1, x0:x1], mask=mask)
            mb = cv2.mean(self._bg[y0:y1, x0:x1], mask=mask)
            bgr = [min(1.0, mf[k] / max(mb[k], 1.0) * c.appearance_reference_grey / 255.0) for k in range(3)]
            out.append((bgr[2], bgr[1], bgr[0]))
        return out

    def _hand_colours(self, f: np.ndarray, fg: np.ndarray, hands: dict[int, tuple[float, float]]
                      ) -> dict[int, tuple[float, float, float]]:
        """Person index -> RGB (0..1, as seen) at its hand: the mean of the most saturated
        ``hand_colour_share`` of the foreground pixels within ``hand_colour_radius_m`` of the hand point (off
        the shelves with ``hand_colour_off_shelf``)
        (a product held is there; skin, sleeve edges and the JPEG-blurred rim are duller). Consumers compare
        its chromaticity, which a change of lighting level does not move."""
        c = self.cfg
        if f.ndim != 3 or not hands or not c.hand_colour:
            return {}
        r = self._hand_r
        out: dict[int, tuple[float, float, float]] = {}
        for k, (hu, hv) in hands.items():
            u, v = int(round(hu)), int(round(hv))
            x0, y0 = max(0, u - r), max(0, v - r)
            x1, y1 = min(self.width, u + r + 1), min(self.height, v + r + 1)
            if x1 <= x0 or y1 <= y0:
                continue
            disc = self._hand_disc[y0 - (v - r):y1 - (v - r), x0 - (u - r):x1 - (u - r)]
            mask = fg[y0:y1, x0:x1] & disc
            if c.hand_colour_off_shelf:
                mask = cv2.subtract(mask, self._shelf_u8[y0:y1, x0:x1])
            if cv2.countNonZero(mask) < c.appearance_min_pixels:
                continue
            px = f[y0:y1, x0:x1][mask.view(bool)]
            sat = px.max(axis=1).astype(np.int16) - px.min(axis=1)
            n = max(1, int(round(len(sat) * c.hand_colour_share)))
            mf = px[np.argpartition(sat, len(sat) - n)[len(sat) - n:]].mean(axis=0)
            if c.hand_colour_refine > 0:
                mf = _colour_mode(px.astype(np.float32), mf, c.hand_colour_refine, n)
            out[k] = (float(mf[2]) / 255.0, float(mf[1]) / 255.0, float(mf[0]) / 255.0)
        return out

    def _update_background(self, f: np.ndarray, fg: np.ndarray, person_px: np.ndarray, dt: float) -> None:
        c = self.cfg
        # shadows come and go with people: they are kept out of the background like people
        person = cv2.dilate(cv2.bitwise_or(person_px, self._shadow), self._k_grow)
        fgd = cv2.dilate(fg, self._k_grow)
        bg_mask = cv2.compare(cv2.bitwise_or(fgd, person), 0, cv2.CMP_EQ)  # 255 where neither (0/1 masks)
        clutter = cv2.subtract(fgd, person)
        for mask, tau in ((bg_mask, c.bg_time_constant_s), (clutter, c.bg_clutter_time_constant_s),
                          (person, c.bg_person_time_constant_s)):
            alpha = 1.0 - math.exp(-dt / tau) if dt > 0 else 0.0
            if alpha > 0:
                cv2.accumulateWeighted(f, self._bg, alpha, mask)
        self._bg_px = bg_mask

    def _to_floor(self, persons: list[dict], hands: dict[int, tuple[float, float]],
                  looks: list | None = None, held: dict | None = None) -> tuple[Detection, ...]:
        if not persons:
            return ()
        c = self.cfg
        uv = np.array([[p['u'], p['v']] for p in persons])
        xy = self.camera.image_to_floor(uv + 0.5)  # pixel centres
        huv = np.array([hands.get(k, (p['u'], p['v'])) for k, p in enumerate(persons)], float)
        hxy = self.camera.image_to_floor(huv + 0.5)
        out = []
        a = self.mpp * self.mpp
        for k, p in enumerate(persons):
            area_m2 = p['area'] * a
            has = k in hands
            out.append(Detection(
                x=float(xy[k, 0]), y=float(xy[k, 1]),
                sigma_m=c.border_sigma_m if p['cut'] else c.position_sigma_m,
                radius_m=float(math.sqrt(area_m2 / math.pi)), area_m2=float(area_m2),
                confidence=float(min(1.0, area_m2 / c.person_area_m2)),
                has_reach=has, reach_x=float(hxy[k, 0]) if has else float(xy[k, 0]),
                reach_y=float(hxy[k, 1]) if has else float(xy[k, 1]),
                u=p['u'], v=p['v'], reach_u=float(huv[k, 0]), reach_v=float(huv[k, 1]),
                appearance=looks[k] if looks else None, hand_rgb=(held or {}).get(k) if has else None))
        return tuple(out)


def make_detector(camera, cfg: DetectorConfig, shelves: Iterable = ()) -> PersonDetector:
    """The backend ``cfg.backend`` for one camera."""
    if cfg.backend == 'onnx':
        from walkout_core.vision.onnx_detector import OnnxDetector
        return OnnxDetector(camera, cfg)
    return BackgroundDetector(camera, cfg, clutter_mask=shelf_mask(camera, shelves))
