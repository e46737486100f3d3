"""shelf_event_node with real rclpy: a suite bag's load cells replayed through it give the expected
events and alerts; parameters are validated; the parameter files match the config dataclasses."""
import time
from pathlib import Path

import pytest
import yaml

rclpy = pytest.importorskip('rclpy')
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from walkout_core.config import describe  # noqa: E402
from walkout_core.eval.shelf_metrics import shelf_metrics  # noqa: E402
from walkout_core.shelf.config import ShelfEventConfig, ShelfSensorConfig  # noqa: E402
from walkout_msgs.msg import LoadCellReadings, ShelfEvent, StoreAlert  # noqa: E402
from walkout_nodes.common import EVENT_QOS, sensor_qos  # noqa: E402
from walkout_nodes.shelf_event_node import ShelfEventNode  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
SCENARIO = 'put_back_wrong_lane'


def _suite_bag(tmp_path) -> Path:
    """The suite scenario's bag: simulated (load cells and truth, no cameras; same seed, same bag) into
    tmp_path, so a concurrent regeneration of bags/generated cannot race the test; else the suite bag."""
    try:
        from walkout_core.sim.engine import simulate
        from walkout_core.sim.scenario import load_scenario
        out = tmp_path / SCENARIO
        simulate(load_scenario(SCENARIO), out, cameras=False)
        return out
    except Exception as exc:  # noqa: BLE001 - fall back to the generated suite bag
        bag = ROOT / 'bags' / 'generated' / SCENARIO
        if (bag / 'metadata.yaml').is_file():
            return bag
        pytest.skip(f'cannot simulate {SCENARIO} ({exc}) and there is no bag {bag}')


def _read_bag(bag: Path):
    from rosbags.highlevel import AnyReader
    from walkout_core.bagio import typestore
    cells, truth = [], []
    with AnyReader([bag], default_typestore=typestore()) as reader:
        conns = [c for c in reader.connections if c.topic in ('/shelves/load_cells', '/truth/events')]
        for conn, _, raw in reader.messages(connections=conns):
            m = reader.deserialize(raw, conn.msgtype)
            (cells if conn.topic == '/shelves/load_cells' else truth).append(m)
    return cells, truth


def _to_rclpy(m) -> LoadCellReadings:
    out = LoadCellReadings()
    out.header.stamp.sec, out.header.stamp.nanosec = int(m.header.stamp.sec), int(m.header.stamp.nanosec)
    out.header.frame_id = m.header.frame_id
    out.controller_id, out.sequence = m.controller_id, int(m.sequence)
    out.shelf_ids = list(m.shelf_ids)
    out.lanes = [int(v) for v in m.lanes]
    out.weights_g = [float(v) for v in m.weights_g]
    out.status = [int(v) for v in m.status]
    return out


def test_bag_replay_through_the_node_gives_the_expected_events(ctx, tmp_path):
    bag = _suite_bag(tmp_path)
    cells, truth = _read_bag(bag)
    assert cells and truth, f'{bag} has no load cells or no truth events'
    node = ShelfEventNode(context=ctx, parameter_overrides=[
        Parameter('layout', value='small'), Parameter('reliable_sensors', value=True)])
    player = rclpy.create_node('bag_replay', context=ctx)
    pub = player.create_publisher(LoadCellReadings, '/shelves/load_cells', sensor_qos(True))
    events, alerts = [], []
    player.create_subscription(ShelfEvent, '/shelves/events', events.append, EVENT_QOS)
    player.create_subscription(StoreAlert, '/alerts', alerts.append, EVENT_QOS)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    ex.add_node(player)
    try:
        end = time.monotonic() + 10
        while (pub.get_subscription_count() == 0 or node.count_publishers('/shelves/events') == 0
               or player.count_subscribers('/shelves/events') == 0) and time.monotonic() < end:
            ex.spin_once(timeout_sec=0.05)
        msgs = [_to_rclpy(m) for m in cells]
        samples = lambda: node.diag.counters['readings']  # noqa: E731
        chunk = 200                       # paced like a player: never more in flight than the queue holds
        for k in range(0, len(msgs), chunk):
            for m in msgs[k:k + chunk]:
                pub.publish(m)
            end = time.monotonic() + 10
            while samples() < min(k + chunk, len(msgs)) and time.monotonic() < end:
                ex.spin_once(timeout_sec=0.01)
        for _ in range(20):
            ex.spin_once(timeout_sec=0.02)
        assert samples() == len(msgs)
        shelf_truth = [t for t in truth if t.kind in (0, 1, 2, 4)]
        assert len(events) == len(shelf_truth) > 0
        m = shelf_metrics(truth, events, alerts, None)
        assert m['event_precision'] == 1.0 and m['event_recall'] == 1.0
        assert m['product_accuracy'] == 1.0 and m['quantity_accuracy'] == 1.0
        assert m['event_delay_p95_s'] <= 0.5
        misplaced = [t for t in truth if t.kind == 2]
        assert misplaced, 'the scenario has a misplaced put'
        assert m['misplaced_precision'] == 1.0 and m['misplaced_recall'] == 1.0
        ev = next(e for e in events if e.flags & ShelfEvent.FLAG_MISPLACED)
        assert ev.product_id == misplaced[0].product_id and ev.quantity == -1
        assert ev.lane_position.z > 0 and ev.header.stamp.sec > 0
    finally:
        ex.shutdown()
        node.destroy_node()
        player.destroy_node()


def test_bad_readings_are_counted_and_the_node_keeps_running(ctx):
    node = ShelfEventNode(context=ctx, parameter_overrides=[Parameter('layout', value='small'),
                                                            Parameter('reliable_sensors', value=True)])
    player = rclpy.create_node('bad_player', context=ctx)
    pub = player.create_publisher(LoadCellReadings, '/shelves/load_cells', sensor_qos(True))
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    ex.add_node(player)

    def msg(cid, t, n=4, sids=None, weights=None):
        m = LoadCellReadings()
        m.header.stamp.sec, m.header.stamp.nanosec = 1_780_000_000 + int(t), int((t % 1) * 1e9)
        m.controller_id = cid
        m.shelf_ids = sids or ['S1'] * n
        m.lanes = list(range(n))
        m.weights_g = weights or [1000.0] * n
        m.status = [0] * n
        return m
    try:
        end = time.monotonic() + 10
        while pub.get_subscription_count() == 0 and time.monotonic() < end:
            ex.spin_once(timeout_sec=0.05)
        bad = [msg('nope', 1.0), msg('S1', 2.0), msg('S1', 1.5), msg('S1', 3.0, sids=['S9'] * 4),
               msg('S1', 4.0, weights=[1.0, 2.0]), msg('S1', 5.0, weights=[float('nan')] * 4)]
        for m in bad:
            pub.publish(m)
        end = time.monotonic() + 10
        while node.diag.counters['readings'] < len(bad) and time.monotonic() < end:
            ex.spin_once(timeout_sec=0.05)
        c = node.diag.counters
        assert c['readings'] == len(bad)
        assert c['unknown_controller'] == 1 and c['out_of_order'] == 1 and c['unknown_cells'] == 1
        assert c['malformed'] == 1
        assert node.pipeline.counters['samples'] == 2        # the good one and the all-NaN one
    finally:
        ex.shutdown()
        node.destroy_node()
        player.destroy_node()


def test_parameter_changes_are_validated(ctx):
    node = ShelfEventNode(context=ctx, parameter_overrides=[Parameter('layout', value='small')])
    try:
        bad = node.set_parameters([Parameter('window_samples', value=1)])[0]
        assert not bad.successful and 'window_samples' in bad.reason
        fixed = node.set_parameters([Parameter('layout', value='flash')])[0]
        assert not fixed.successful
        ok = node.set_parameters([Parameter('start_threshold_sigma', value=5.0)])[0]
        assert ok.successful and node.pipeline.cfg.start_threshold_sigma == 5.0
    finally:
        node.destroy_node()


def test_bad_parameter_at_start_names_it(ctx):
    from rclpy.exceptions import InvalidParameterValueException
    with pytest.raises((ValueError, InvalidParameterValueException), match='accept_sigma'):
        ShelfEventNode(context=ctx, parameter_overrides=[Parameter('accept_sigma', value=-1.0)])


@pytest.mark.parametrize('node, cls', [('shelf_event_node', ShelfEventConfig),
                                       ('shelf_sensor_node', ShelfSensorConfig)])
def test_parameter_file_keys_and_units(node, cls):
    path = ROOT / 'params' / f'{node}.yaml'
    data = yaml.safe_load(path.read_text())
    params = data[node]['ros__parameters']
    assert set(params) == set(describe(cls))
    for line in path.read_text().splitlines():
        if line.startswith('    ') and ':' in line:
            assert '# [' in line, f'{path}: no "# [unit]" comment on {line!r}'
