"""Simulator bags: open with rosbags, documented topics and types, messages deserialize with rclpy."""
from __future__ import annotations

import importlib

import numpy as np
import pytest
from rosbags.rosbag2 import Reader

from walkout_core.bagio import typestore
from walkout_core.sim.bagwriter import SIM_EPOCH_S
from walkout_core.sim.engine import simulate
from walkout_core.sim.scenario import load_scenario

DURATION_S = 30.0


@pytest.fixture(scope='module')
def demo_bag(tmp_path_factory):
    out = tmp_path_factory.mktemp('simbag') / 'demo'
    simulate(load_scenario('demo'), out, duration_s=DURATION_S)
    return out


def _expected_topics(layout, raw=False):
    img = ('/camera/{}/image', 'sensor_msgs/msg/Image') if raw else \
        ('/camera/{}/image/compressed', 'sensor_msgs/msg/CompressedImage')
    topics = {img[0].format(c.id): img[1] for c in layout.cameras}
    topics.update({'/shelves/load_cells': 'walkout_msgs/msg/LoadCellReadings',
                   '/checkout/card_presented': 'walkout_msgs/msg/CardPresented',
                   '/truth/persons': 'walkout_msgs/msg/TruthPersonArray',
                   '/truth/events': 'walkout_msgs/msg/TruthEvent',
                   '/truth/baskets': 'walkout_msgs/msg/TruthBasketArray'})
    return topics


def test_bag_has_documented_topics_and_types(demo_bag):
    layout = load_scenario('demo').layout
    with Reader(demo_bag) as r:
        topics = {c.topic: c.msgtype for c in r.connections}
        assert topics == _expected_topics(layout)
        assert r.message_count > 0
        counts = {c.topic: c.msgcount for c in r.connections}
        assert r.start_time >= SIM_EPOCH_S * 10 ** 9
        assert (r.end_time - r.start_time) / 1e9 == pytest.approx(DURATION_S, abs=0.2)
    assert (demo_bag / 'metadata.yaml').is_file()
    assert list(demo_bag.glob('*.mcap'))
    # rates: cameras 10 Hz (minus a few dropped frames), 7 controllers at 20 Hz, truth persons 10 Hz
    for c in layout.cameras:
        assert 0.9 * DURATION_S * c.fps <= counts[f'/camera/{c.id}/image/compressed'] <= DURATION_S * c.fps + 1
    assert counts['/shelves/load_cells'] == len(layout.controllers()) * (int(DURATION_S * 20) + 1)
    assert counts['/truth/persons'] == int(DURATION_S * 10) + 1
    assert counts['/truth/baskets'] == 1


def test_messages_deserialize_with_rclpy(demo_bag):
    from rclpy.serialization import deserialize_message   # no rclpy.init needed
    seen = set()
    with Reader(demo_bag) as r:
        for conn, _, raw in r.messages():
            if conn.topic in seen and conn.topic != '/truth/events':
                continue
            seen.add(conn.topic)
            pkg, _, name = conn.msgtype.split('/')
            cls = getattr(importlib.import_module(f'{pkg}.msg'), name)
            msg = deserialize_message(bytes(raw), cls)
            if name == 'CompressedImage':
                import cv2
                assert msg.format == 'jpeg'
                assert msg.header.frame_id == conn.topic.split('/')[2]
                img = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_COLOR)
                assert img.shape == (240, 320, 3)
            elif name == 'LoadCellReadings':
                assert len(msg.shelf_ids) == len(msg.lanes) == len(msg.weights_g) == len(msg.status) == 4
                assert msg.header.frame_id == 'map'
            elif name == 'TruthEvent':
                assert msg.event_id
                t = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
                ts = msg.settled_stamp.sec + msg.settled_stamp.nanosec * 1e-9
                assert ts >= t
    assert seen == set(_expected_topics(load_scenario('demo').layout))   # every topic has messages


def test_load_cells_track_the_true_weight_change(demo_bag):
    """Around each pick the lane reading drops by about the event's weight change (noise 10 g)."""
    ts = typestore()
    series: dict[tuple[str, int], list[tuple[float, float]]] = {}
    events = []
    with Reader(demo_bag) as r:
        for conn, t, raw in r.messages():
            if conn.topic == '/shelves/load_cells':
                m = ts.deserialize_cdr(raw, conn.msgtype)
                for sid, lane, w in zip(m.shelf_ids, m.lanes, m.weights_g, strict=True):
                    series.setdefault((sid, int(lane)), []).append((t / 1e9, float(w)))
            elif conn.topic == '/truth/events':
                e = ts.deserialize_cdr(raw, conn.msgtype)
                if e.shelf_id:
                    events.append(e)
    assert events
    for e in events:
        t0 = e.header.stamp.sec + e.header.stamp.nanosec * 1e-9
        t1 = e.settled_stamp.sec + e.settled_stamp.nanosec * 1e-9
        s = np.array(series[(e.shelf_id, e.lane)])
        before = np.nanmedian(s[(s[:, 0] > t0 - 1.0) & (s[:, 0] < t0 - 0.05), 1])
        after = np.nanmedian(s[(s[:, 0] > t1) & (s[:, 0] < t1 + 1.0), 1])
        assert after - before == pytest.approx(e.weight_change_g, abs=40.0)


def test_raw_images_option(tmp_path):
    out = tmp_path / 'raw'
    simulate(load_scenario('single_shopper'), out, duration_s=2.0, raw_images=True)
    ts = typestore()
    with Reader(out) as r:
        topics = {c.topic: c.msgtype for c in r.connections}
        assert topics == _expected_topics(load_scenario('single_shopper').layout, raw=True)
        conn = next(c for c in r.connections if c.msgtype == 'sensor_msgs/msg/Image')
        _, _, raw = next(r.messages(connections=[conn]))
        img = ts.deserialize_cdr(raw, conn.msgtype)
        assert img.encoding == 'rgb8' and img.step == img.width * 3
        assert len(img.data) == img.height * img.step


def test_bag_says_which_simulator_made_it(tmp_path):
    """walkout_sim.json next to the bag: the bag is current for its scenario and seed, and stops being
    current when the seed, the scenario file or the simulator differ."""
    import json

    from walkout_core.sim.provenance import PROVENANCE_FILE, read_provenance, stale_reason
    from walkout_core.sim.scenario import resolve_scenario_path
    out = tmp_path / 'one'
    path = resolve_scenario_path('single_shopper')
    simulate(load_scenario('single_shopper'), out, seed=7, duration_s=1.0, cameras=False)
    prov = read_provenance(out)
    assert prov['scenario'] == 'single_shopper' and prov['seed'] == 7 and prov['duration_s'] == 1.0
    assert stale_reason(out, path, 7) is None
    assert 'seed' in stale_reason(out, path, 8)
    edited = tmp_path / 'single_shopper.yaml'
    edited.write_text(path.read_text() + '\n# edited\n')
    assert 'scenario file' in stale_reason(out, edited, 7)
    (out / PROVENANCE_FILE).write_text(json.dumps(dict(prov, simulator='0' * 64)))
    assert 'another version' in stale_reason(out, path, 7)
    (out / PROVENANCE_FILE).unlink()
    assert PROVENANCE_FILE in stale_reason(out, path, 7)
