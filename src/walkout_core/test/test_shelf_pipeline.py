"""Store-wide pipeline on synthetic signals: identification, misplaced puts, alerts, faults, bad input."""
import numpy as np
import pytest

from walkout_core.layout import load_layout
from walkout_core.shelf import FLAG_MISPLACED, FLAG_MULTI_LANE, FLAG_SENSOR_FAULT, FLAG_UNKNOWN
from walkout_core.shelf.config import ShelfEventConfig
from walkout_core.shelf.identify import Identification
from walkout_core.shelf.pipeline import InputError, ShelfPipeline
from walkout_core.shelf.synth import Step, controller_samples

T0 = 1_780_000_000.0


@pytest.fixture(scope='module')
def layout():
    return load_layout('small')


def run(layout, steps, duration=20.0, mutate=None, cfg=None, skip=None):
    p = ShelfPipeline(layout, cfg or ShelfEventConfig())
    events, alerts = [], []
    for cid, t, sids, lanes, w in controller_samples(layout, steps, duration, T0):
        if skip and skip(cid, t):
            continue
        if mutate:
            w = mutate(cid, t, sids, lanes, w.copy())
        e, a = p.update(cid, t, w, None, sids, lanes)
        events += e
        alerts += a
    return events, alerts, p


def w(layout, pid):
    return layout.catalogue[pid].unit_weight_g


def test_picks_puts_and_restock_of_the_lane_product(layout):
    steps = {('S3', 0): [Step(T0 + 2, -w(layout, 'p075'), press_g=150), Step(T0 + 8, w(layout, 'p075'))],
             ('S3', 1): [Step(T0 + 4, -2 * w(layout, 'p076'), press_g=200)],
             ('S3', 2): [Step(T0 + 10, 10 * w(layout, 'p085'), ramp_s=2.0)],
             ('S5', 3): [Step(T0 + 12, -w(layout, 'p167'))]}      # the lightest product, 69 g
    events, alerts, _ = run(layout, steps)
    got = [(e.shelf_id, e.lane, e.product_id, e.quantity, e.flags) for e in sorted(events, key=lambda e: e.start_t)]
    assert got == [('S3', 0, 'p075', 1, 0), ('S3', 1, 'p076', 2, 0), ('S3', 0, 'p075', -1, 0),
                   ('S3', 2, 'p085', -10, 0), ('S5', 3, 'p167', 1, 0)]
    assert alerts == []
    assert all(e.confidence > 0.9 for e in events)
    assert all(e.planogram_product_id == e.product_id for e in events)
    e = events[0]
    assert e.lane_position == pytest.approx(tuple(layout.shelf('S3').lane_position(0)))
    assert e.start_t <= e.settled_t <= e.decided_t


def test_similar_weights_put_on_the_neighbour_lane_is_misplaced(layout):
    # p076 (555 g) taken from S3 lane 1 and put on lane 0 (p075, 526 g); then picked again from there
    steps = {('S3', 1): [Step(T0 + 2, -w(layout, 'p076'))],
             ('S3', 0): [Step(T0 + 6, w(layout, 'p076'), swing_g=40), Step(T0 + 12, -w(layout, 'p076'))]}
    events, alerts, p = run(layout, steps)
    events.sort(key=lambda e: e.start_t)
    assert [(e.lane, e.product_id, e.quantity) for e in events] == [(1, 'p076', 1), (0, 'p076', -1), (0, 'p076', 1)]
    assert events[1].flags & FLAG_MISPLACED and events[1].planogram_product_id == 'p075'
    assert events[1].confidence > 0.5
    mis = [a for a in alerts if a.kind == 'MISPLACED_PRODUCT']
    assert [a.state for a in mis] == ['OPEN', 'RESOLVED'] and mis[0].alert_id == mis[1].alert_id
    assert mis[0].shelf_id == 'S3' and mis[0].lane == 0 and mis[0].product_ids[0] == 'p076'
    assert 'shelf S3 lane 1' in mis[0].message and events[1].event_id in mis[0].event_ids


def test_misplaced_put_prefers_recently_picked_products(layout):
    # p039, p076 and p251 all weigh 555 g: the one picked recently (anywhere) is the one put back wrong
    for picked in ('p076', 'p039', 'p251'):
        steps = {('S1', 3): [Step(T0 + 6, w(layout, picked))]}
        p = ShelfPipeline(layout, ShelfEventConfig())
        p.identifier.note(Identification('pick', picked, 1, 1.0, 0, 0.0), T0)
        events = []
        for cid, t, sids, lanes, x in controller_samples(layout, steps, 10.0, T0):
            events += p.update(cid, t, x, None, sids, lanes)[0]
        assert [(e.product_id, e.quantity, e.flags) for e in events] == [(picked, -1, FLAG_MISPLACED)]


def test_change_matching_nothing_is_unknown_with_an_alert(layout):
    steps = {('S1', 0): [Step(T0 + 3, 2400.0)]}      # 1.5 x a 1600 g bottle
    events, alerts, _ = run(layout, steps, 8.0)
    assert len(events) == 1 and events[0].flags & FLAG_UNKNOWN and events[0].product_id == ''
    assert [a.kind for a in alerts] == ['UNKNOWN_WEIGHT_CHANGE']
    assert alerts[0].shelf_id == 'S1' and alerts[0].lane == 0


def test_sensor_fault_alert_once_and_flagged_event(layout):
    steps = {('S4', 2): [Step(T0 + 6, -w(layout, 'p125'))]}

    def nan_burst(cid, t, sids, lanes, x):
        if cid == 'S4' and T0 + 5 <= t < T0 + 8:
            x[2] = np.nan
        return x
    events, alerts, _ = run(layout, steps, 20.0, nan_burst)
    faults = [a for a in alerts if a.kind == 'SENSOR_FAULT']
    assert [a.state for a in faults] == ['OPEN', 'RESOLVED']
    assert faults[0].shelf_id == 'S4' and faults[0].lane == 2
    assert len(events) == 1 and events[0].flags & FLAG_SENSOR_FAULT and events[0].quantity == 1
    assert events[0].confidence <= ShelfEventConfig().fault_confidence_scale


def test_silent_controller_raises_a_fault_and_recovers(layout):
    events, alerts, _ = run(layout, {}, 15.0, skip=lambda cid, t: cid == 'S6' and T0 + 4 <= t < T0 + 9)
    faults = [a for a in alerts if a.kind == 'SENSOR_FAULT']
    assert [(a.state, a.lane) for a in faults] == [('OPEN', -1), ('RESOLVED', -1)]
    assert events == []


def test_simultaneous_neighbour_lanes_are_flagged(layout):
    steps = {('S4', 0): [Step(T0 + 3, -w(layout, 'p103'))], ('S4', 1): [Step(T0 + 3.2, -w(layout, 'p113'))]}
    events, _, _ = run(layout, steps, 8.0)
    assert sorted((e.lane, e.product_id) for e in events) == [(0, 'p103'), (1, 'p113')]
    assert any(e.flags & FLAG_MULTI_LANE for e in events)


def test_cells_in_another_order_are_rearranged(layout):
    steps = {('S2', 3): [Step(T0 + 3, -w(layout, 'p071'))]}

    p = ShelfPipeline(layout, ShelfEventConfig())
    events = []
    for cid, t, sids, lanes, x in controller_samples(layout, steps, 8.0, T0):
        events += p.update(cid, t, x[::-1].copy(), None, sids[::-1], lanes[::-1])[0]
    assert [(e.shelf_id, e.lane, e.product_id) for e in events] == [('S2', 3, 'p071')]


def test_bad_input_raises_input_error_with_a_key(layout):
    p = ShelfPipeline(layout, ShelfEventConfig())
    with pytest.raises(InputError) as e:
        p.update('nope', T0, [1.0])
    assert e.value.key == 'unknown_controller'
    p.update('S1', T0, np.zeros(4))
    with pytest.raises(InputError) as e:
        p.update('S1', T0, np.zeros(4))
    assert e.value.key == 'out_of_order'
    with pytest.raises(InputError) as e:
        p.update('S1', T0 + 1, np.zeros(3))
    assert e.value.key == 'cell_count'
    with pytest.raises(InputError) as e:
        p.update('S1', T0 + 1, np.zeros(4), None, ['S1'] * 3, [0, 1, 2])
    assert e.value.key == 'malformed'
    with pytest.raises(InputError) as e:
        p.update('S1', T0 + 1, np.zeros(1), None, ['S9'], [0])
    assert e.value.key == 'unknown_cells'
    with pytest.raises(InputError) as e:
        p.update('S1', float('nan'), np.zeros(4))
    assert e.value.key == 'bad_stamp'


def test_identifier_prefers_picks_that_could_have_walked_here(layout):
    from walkout_core.shelf.identify import ProductIdentifier
    ident = ProductIdentifier(layout.catalogue, ShelfEventConfig())
    # p039 and p076 weigh 555 g; both picked 2 s ago, p039 right here, p076 20 m away
    ident.note(Identification('pick', 'p039', 1, 1.0, 0, 0.0), T0, ('A', 0), (1.0, 1.0))
    ident.note(Identification('pick', 'p076', 1, 1.0, 0, 0.0), T0, ('B', 0), (21.0, 1.0))
    r = ident.identify('p019', 555.0, 4.0, T0 + 2.0, None, ('C', 0), (2.0, 1.0))
    assert (r.kind, r.product_id, r.quantity) == ('misplaced_put', 'p039', -1)
    r = ident.identify('p019', 555.0, 4.0, T0 + 2.0, None, ('C', 0), (20.0, 1.0))
    assert r.product_id == 'p076'
    # a put-back right after a pick from the same lane is that lane's product, even if another
    # recently picked product fits as well
    ident.note(Identification('pick', 'p075', 1, 1.0, 0, 0.0), T0, ('S3', 0), (5.0, 5.0))
    ident.note(Identification('pick', 'p084', 1, 1.0, 0, 0.0), T0 + 1, ('X', 0), (5.5, 5.0))
    r = ident.identify('p075', 525.0, 4.0, T0 + 3.0, None, ('S3', 0), (5.0, 5.0))
    assert (r.kind, r.product_id, r.quantity) == ('put_back', 'p075', -1)
