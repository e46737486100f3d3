"""The layout model: the shipped layouts load, bad layouts are rejected with a clear message."""
import copy
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from walkout_core.layout import LayoutError, Polygon, layout_from_dict, load_layout, params_dir


@pytest.fixture(scope='module')
def small_dict():
    path = params_dir() / 'layouts' / 'small.yaml'
    data = yaml.safe_load(path.read_text())
    # inline the catalogue so the tests can break it
    data['catalogue'] = yaml.safe_load((path.parent / data.pop('catalogue_file')).read_text())['products']
    return data


def _load(data, tmp_path: Path):
    f = tmp_path / 'bad.yaml'
    f.write_text(yaml.safe_dump(data))
    return load_layout(f)


def test_small_layout_loads():
    lay = load_layout('small')
    assert lay.name == 'small'
    assert len(lay.cameras) == 4 and len(lay.shelves) == 7
    assert lay.n_load_cells == 28
    assert {g.kind for g in lay.gates} == {'entry', 'exit', 'staff'}
    assert any(p.age_restricted for p in lay.catalogue.values())


def test_flash_layout_is_carrefour_flash_scale():
    lay = load_layout('flash')
    assert 50.0 <= lay.area_m2 <= 60.0
    assert len(lay.cameras) == 60
    assert len(lay.shelves) == 250
    assert lay.n_load_cells == 2000
    assert all(s.capacity_kg == 30.0 and s.accuracy_g == 10.0 for s in lay.shelves)
    assert 200 <= len(lay.catalogue) <= 500
    assert sum(p.age_restricted for p in lay.catalogue.values()) > 10


@pytest.mark.parametrize('name', ['small', 'flash'])
def test_cameras_cover_the_floor(name):
    lay = load_layout(name)
    xmin, ymin, xmax, ymax = lay.floor.bounds
    xs, ys = np.meshgrid(np.linspace(xmin + 0.05, xmax - 0.05, 25), np.linspace(ymin + 0.05, ymax - 0.05, 25))
    pts = np.stack([xs.ravel(), ys.ravel()], axis=1)
    covered = np.zeros(len(pts), bool)
    for cam in lay.cameras:
        covered |= cam.footprint.contains(pts)
    assert covered.all()


def test_homography_round_trip():
    cam = load_layout('small').cameras[0]
    uv = np.array([[0.0, 0.0], [160.0, 120.0], [319.0, 239.0]])
    assert np.allclose(cam.floor_to_image(cam.image_to_floor(uv)), uv, atol=1e-6)
    centre = cam.image_to_floor([[cam.width / 2, cam.height / 2]])[0]
    assert np.allclose(centre, [2.0, 1.5])
    # image v grows downwards, floor y upwards
    top, bottom = cam.image_to_floor([[160, 0], [160, 239]])
    assert top[1] > bottom[1]


def test_lane_positions_are_on_the_shelf_front():
    lay = load_layout('small')
    s = lay.shelf('S1')  # back wall, faces -y
    p = s.lane_positions()
    assert np.allclose(p[:, 1], s.y - s.depth / 2)
    assert np.all(np.diff(p[:, 0]) > 0)
    assert lay.lane_product('S3', 0).id == 'p075'


def test_polygon_contains():
    sq = Polygon(((0, 0), (1, 0), (1, 1), (0, 1)))
    assert sq.contains((0.5, 0.5)) and not sq.contains((1.5, 0.5))
    assert sq.contains(np.array([[0.5, 0.5], [2, 2]])).tolist() == [True, False]
    assert math.isclose(sq.area, 1.0)


@pytest.mark.parametrize('mutate, words', [
    (lambda d: d.pop('floor'), ['floor', 'missing key']),
    (lambda d: d['shelves'][0]['lanes'][1].pop('product'), ['shelves[0].lanes[1].product', 'missing key']),
    (lambda d: d['shelves'][0]['lanes'][1].update(product='p999'), ['p999', 'not in the catalogue']),
    (lambda d: d['catalogue'][0].pop('unit_weight_g'), ['unit_weight_g', 'missing key']),
    (lambda d: d['catalogue'][0].update(price=-1.0), ['price', '-1.0', '>= 0']),
    (lambda d: d['shelves'][1].update(x=d['shelves'][0]['x'] + 0.3, y=d['shelves'][0]['y']),
     ['shelves[1]', 'S2', 'overlaps shelf', 'S1']),
    (lambda d: d['cameras'][0].update(homography=[[1, 2, 0], [2, 4, 0], [0, 0, 1]]),
     ['cameras[0].homography', 'singular']),
    (lambda d: d['gates'].pop(0), ['gates', 'entry']),
    (lambda d: d['shelves'][0]['lanes'][0].update(stock=1000), ['stock', '1000', 'capacity']),
    (lambda d: d['cameras'][0].update(fps=float('nan')), ['cameras[0].fps', 'finite']),
    (lambda d: d['catalogue'][0].update(colour='red'), ['catalogue', 'colour', 'red', '#rrggbb']),
    (lambda d: d['catalogue'][0].update(colour='#12345g'), ['colour', '#12345g', '#rrggbb']),
])
def test_bad_layouts_are_rejected_clearly(small_dict, tmp_path, mutate, words):
    data = copy.deepcopy(small_dict)
    mutate(data)
    with pytest.raises(LayoutError) as err:
        _load(data, tmp_path)
    msg = str(err.value)
    assert 'bad.yaml' in msg
    for w in words:
        assert w in msg, msg


def test_stacked_shelves_do_not_overlap(small_dict):
    data = copy.deepcopy(small_dict)
    upper = copy.deepcopy(data['shelves'][0])
    upper.update(id='S1_upper', z=1.5)
    data['shelves'].append(upper)
    assert len(layout_from_dict(data).shelves) == 8


def test_unreadable_file_names_the_file(tmp_path):
    with pytest.raises(LayoutError, match='nope.yaml'):
        load_layout(tmp_path / 'nope.yaml')


def test_catalogue_packaging_colours_are_what_the_simulator_draws():
    from walkout_core.sim.render import product_colour
    lay = load_layout('flash')
    assert all(p.colour_rgb is not None for p in lay.catalogue.values())
    for pid in ('p001', 'p085', 'p258'):
        b, g, r = product_colour(pid)
        assert lay.catalogue[pid].colour_rgb == pytest.approx((r / 255, g / 255, b / 255))
