"""Detector appearance: the mean clothing colour of a rendered person, invariant to global lighting."""
import numpy as np
import pytest

from walkout_core.layout import load_layout
from walkout_core.vision.config import DetectorConfig
from walkout_core.vision.detector import BackgroundDetector, shelf_mask
from walkout_core.vision.synthetic import Person, render_background, render_frame

FLOOR_BGR = np.array((150.0, 145.0, 135.0))   # render_background's floor colour


def _looks(layout_name, colour_bgr, gains=(1.0,), cfg=None):
    lay = load_layout(layout_name)
    cam = lay.cameras[0]
    bg = render_background(cam, lay.shelves)
    det = BackgroundDetector(cam, cfg, clutter_mask=shelf_mask(cam, lay.shelves))
    x, y = cam.image_to_floor(np.array([[cam.width / 2, cam.height / 2]]))[0]
    for k in range(3):
        det.detect(render_frame(cam, bg, seed=k), 0.2 * k)
    out = []
    for k, g in enumerate(gains):
        # the lighting drifts slowly: the detector's gain compensation follows it on empty frames
        for j in range(4):
            det.detect(render_frame(cam, bg, gain=g, seed=10 + 10 * k + j), 1.0 + 2.0 * k + 0.2 * j)
        res = det.detect(render_frame(cam, bg, [Person(x, y, colour=colour_bgr)], gain=g, seed=99 + k),
                         2.0 + 2.0 * k)
        assert res.camera_ok and len(res.detections) == 1
        out.append(res.detections[0].appearance)
    return out


@pytest.mark.parametrize('layout_name', ['small', 'flash'])
def test_appearance_is_the_clothing_colour(layout_name):
    colour = (40, 60, 200)  # BGR: red clothing
    (a,) = _looks(layout_name, colour)
    assert a is not None and len(a) == 3 and all(0.0 <= v <= 1.0 for v in a)
    expected_rgb = (np.array(colour) / FLOOR_BGR * 128.0 / 255.0)[::-1]
    assert np.allclose(a, expected_rgb, atol=0.05)
    (b,) = _looks(layout_name, (200, 120, 30))  # blue clothing is far from red
    assert np.linalg.norm(np.array(a) - np.array(b)) > 0.3


def test_appearance_is_invariant_to_a_global_brightness_change():
    a, dark, bright = _looks('small', (60, 170, 90), gains=(1.0, 0.75, 1.3))
    assert np.linalg.norm(np.array(dark) - np.array(a)) < 0.03
    assert np.linalg.norm(np.array(bright) - np.array(a)) < 0.03


def test_appearance_off_gives_none():
    (a,) = _looks('small', (40, 60, 200), cfg=DetectorConfig(appearance=False))
    assert a is None


def test_appearance_config_is_checked():
    from walkout_core.config import from_mapping
    with pytest.raises(ValueError, match='appearance_head_radius_m'):
        from_mapping(DetectorConfig, {'appearance_head_radius_m': 0.3, 'appearance_radius_m': 0.2})


def _hand(layout_name, item_bgr, gain=1.0, cfg=None):
    """The detection of one person reaching with ``item_bgr`` (or nothing) in the hand."""
    lay = load_layout(layout_name)
    cam = lay.cameras[0]
    bg = render_background(cam, lay.shelves)
    det = BackgroundDetector(cam, cfg, clutter_mask=shelf_mask(cam, lay.shelves))
    x, y = cam.image_to_floor(np.array([[cam.width / 2, cam.height / 2]]))[0]
    p = Person(x, y, heading=np.pi / 2, colour=(60, 170, 90), hand=(x + 0.1, y + 0.55), item=item_bgr)
    for k in range(3):
        det.detect(render_frame(cam, bg, seed=k), 0.2 * k)
    res = det.detect(render_frame(cam, bg, [p], gain=gain, seed=42), 1.0)
    assert res.camera_ok and len(res.detections) == 1
    return res.detections[0]


def _chroma(rgb):
    v = np.asarray(rgb, float)
    return v / v.sum()


@pytest.mark.parametrize('layout_name', ['small', 'flash'])
@pytest.mark.parametrize('gain', [1.0, 0.75])
def test_hand_colour_is_the_held_products_colour(layout_name, gain):
    item = (200, 60, 170)                     # BGR: a purple box in the hand
    d = _hand(layout_name, item, gain)
    assert d.has_reach and d.hand_rgb is not None
    assert np.linalg.norm(_chroma(d.hand_rgb) - _chroma(item[::-1])) < 0.05   # chromaticity: any lighting level
    empty = _hand(layout_name, None, gain)    # an empty hand: skin and sleeve, not the purple
    assert empty.has_reach and empty.hand_rgb is not None
    assert np.linalg.norm(_chroma(empty.hand_rgb) - _chroma(item[::-1])) > 0.15


def test_hand_colour_off_or_no_reach_gives_none():
    assert _hand('small', (200, 60, 170), cfg=DetectorConfig(hand_colour=False)).hand_rgb is None
    assert all(d.hand_rgb is None for d in _looks_detections())


def _looks_detections():
    lay = load_layout('small')
    cam = lay.cameras[0]
    bg = render_background(cam, lay.shelves)
    det = BackgroundDetector(cam, None, clutter_mask=shelf_mask(cam, lay.shelves))
    x, y = cam.image_to_floor(np.array([[cam.width / 2, cam.height / 2]]))[0]
    det.detect(render_frame(cam, bg, seed=0), 0.0)
    return det.detect(render_frame(cam, bg, [Person(x, y)], seed=1), 0.2).detections


def test_hand_colour_mode_is_not_biased_by_the_most_saturated_pixels():
    # a held box (BGR 73, 133, 13) under sensor noise, with skin pixels around it: the most saturated share
    # is pushed outwards by the noise; the mode of the pixels near it is the box's colour
    from walkout_core.vision.detector import _colour_mode
    rng = np.random.default_rng(3)
    box = np.array([73.0, 133.0, 13.0])
    px = np.vstack([box + rng.normal(0, 3.0, (300, 3)), np.array([140.0, 170.0, 215.0]) + rng.normal(0, 3.0, (120, 3))])
    px = np.clip(np.round(px), 0, 255).astype(np.float32)
    sat = px.max(axis=1) - px.min(axis=1)
    n = int(len(px) * 0.2)
    top = px[np.argsort(sat)[-n:]].mean(axis=0)
    assert np.abs(top - box).max() > 2.0                   # the biased start (about one noise sigma)
    mode = _colour_mode(px, top, 15.0, n)
    assert np.abs(mode - box).max() < 1.0
    assert np.array_equal(_colour_mode(px[:5], top, 15.0, 10), top.astype(np.float32))   # too few: start kept


@pytest.mark.parametrize('off_shelf', [True, False])
def test_hand_colour_over_a_shelf_front_is_not_the_stock(off_shelf):
    # a hand point at a shelf's front edge, its disc half over the shelf: all of it foreground (a shadow or an
    # arm over the stock); the stock (saturated purple) must not pass for what the hand holds
    lay = load_layout('small')
    cam = lay.camera('cam0')
    shelf = shelf_mask(cam, lay.shelves).astype(bool)
    ys, xs = np.nonzero(shelf[:-8, :] & ~shelf[8:, :])        # shelf pixels with the floor 8 px below
    v, u = int(ys[len(ys) // 2]) + 4, int(xs[len(xs) // 2])
    det = BackgroundDetector(cam, DetectorConfig(hand_colour_off_shelf=off_shelf), clutter_mask=shelf)
    f = np.empty((cam.height, cam.width, 3), np.uint8)
    f[shelf], f[~shelf] = (200, 40, 180), (140, 170, 215)     # BGR: stock on the shelf, skin off it
    rgb = det._hand_colours(f, np.ones(shelf.shape, np.uint8), {0: (float(u), float(v))})[0]
    stock, skin = (180 / 255, 40 / 255, 200 / 255), (215 / 255, 170 / 255, 140 / 255)
    assert np.allclose(rgb, skin if off_shelf else stock, atol=0.01)
