"""Bag player and recorder: timing, topic selection, /clock, errors (real rclpy over DDS)."""
from __future__ import annotations

import shutil
import threading
import time

import pytest

from bagfixtures import EPOCH_NS, write_bag, write_bag_with_unknown_type
from walkout_nodes.bag_player import BagError, BagSource, Pacer, header_stamp_ns

rclpy = pytest.importorskip('rclpy')


# ---------------------------------------------------------------- pure parts
def test_pacer_scales_bag_time_by_rate():
    now = [100.0]
    p = Pacer(2.0, clock=lambda: now[0])
    assert p.due_in(EPOCH_NS) == 0.0
    assert p.due_in(EPOCH_NS + 1_000_000_000) == pytest.approx(0.5)
    now[0] += 0.25
    assert p.due_in(EPOCH_NS + 1_000_000_000) == pytest.approx(0.25)
    fast = Pacer(0.0, clock=lambda: now[0])
    fast.due_in(EPOCH_NS)
    assert fast.due_in(EPOCH_NS + 10**12) == 0.0


def test_source_reads_in_order_and_skips_truth(tmp_path):
    bag = write_bag(tmp_path / 'b')
    src = BagSource(bag)
    assert set(src.types) == {'/shelves/load_cells'}
    msgs = list(src.messages())
    assert len(msgs) == 41
    stamps = [t for _, t, _ in msgs]
    assert stamps == sorted(stamps)
    assert all(header_stamp_ns(d) == t for _, t, d in msgs)
    assert set(BagSource(bag, skip_truth=False).types) == {'/shelves/load_cells', '/truth/events'}
    assert set(BagSource(bag, topics=['/truth/events']).types) == {'/truth/events'}


def test_errors_are_clear(tmp_path):
    with pytest.raises(BagError, match='does not exist'):
        BagSource(tmp_path / 'missing')
    bag = write_bag(tmp_path / 'b')
    with pytest.raises(BagError, match=r"no topic\(s\) \['/nope'\]"):
        BagSource(bag, topics=['/nope'])
    bad = tmp_path / 'trunc'
    shutil.copytree(bag, bad)
    f = next(bad.glob('*.mcap'))
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.raises(BagError, match='corrupt, truncated'):
        list(BagSource(bad).messages())
    unk = write_bag_with_unknown_type(tmp_path / 'unk')
    from walkout_nodes.bag_player import message_class
    src = BagSource(unk)
    with pytest.raises(BagError, match="unknown message type 'nosuch_msgs/msg/Thing'"):
        message_class(src.types['/weird'])


# ---------------------------------------------------------------- with rclpy
@pytest.fixture
def ros():
    rclpy.init()
    yield
    rclpy.try_shutdown()


def _play(bag, rate, extra=()):
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.parameter import Parameter
    from rosgraph_msgs.msg import Clock
    from walkout_msgs.msg import LoadCellReadings
    from walkout_nodes.bag_player import BagPlayer, qos_for_topic
    got, clocks = [], []
    lock = threading.Lock()
    sub = rclpy.create_node('test_sink')
    sub.create_subscription(LoadCellReadings, '/shelves/load_cells',
                            lambda m: (lock.acquire(), got.append((time.monotonic(), m)), lock.release()),
                            qos_for_topic('/shelves/load_cells', True))
    sub.create_subscription(Clock, '/clock', lambda m: clocks.append(m), 10)
    player = BagPlayer(parameter_overrides=[Parameter('bag', value=str(bag)), Parameter('rate', value=rate),
                                            Parameter('wait_for_subscribers_s', value=10.0), *extra])
    ex = MultiThreadedExecutor(num_threads=2)
    ex.add_node(sub)
    ex.add_node(player)
    player.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (player.done.is_set() and len(got) >= player.published):
        ex.spin_once(timeout_sec=0.05)
    for _ in range(20):
        ex.spin_once(timeout_sec=0.01)
    assert player.error is None
    rtf = player.realtime_factor
    player.destroy_node()
    sub.destroy_node()
    ex.shutdown()
    return got, clocks, rtf


def test_player_timing_at_rate(ros, tmp_path):
    bag = write_bag(tmp_path / 'b', duration_s=2.0)
    got, clocks, rtf = _play(bag, 2.0)
    assert len(got) == 41                       # nothing lost, truth not played
    stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for _, m in got]
    assert stamps == sorted(stamps)
    # The pacing itself is checked with a fake clock (test_pacer_scales_bag_time_by_rate); over DDS
    # the player must never run ahead of the rate (scheduling delays can only make it later).
    wall = got[-1][0] - got[0][0]
    assert wall >= 1.0 - 0.1                     # 2 s of bag at 2x: not faster than 1 s
    assert 0.0 < rtf <= 2.0 * 1.1
    assert clocks and clocks[-1].clock.sec == (EPOCH_NS + 2 * 10**9) // 10**9
    assert list(got[5][1].weights_g) == [500.0] * 4  # bytes passed through unchanged


def test_player_as_fast_as_possible(ros, tmp_path):
    bag = write_bag(tmp_path / 'b', duration_s=5.0)
    got, _, rtf = _play(bag, 0.0)
    assert len(got) == 101
    assert rtf > 5.0


def test_recorder_round_trip(ros, tmp_path):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from walkout_msgs.msg import ShelfEvent
    from walkout_nodes.bag_player import qos_for_topic
    from walkout_nodes.bag_recorder import BagRecorder
    out = tmp_path / 'rec'
    rec = BagRecorder(parameter_overrides=[Parameter('out', value=str(out)),
                                           Parameter('topics', value=['/shelves/events'])])
    pub_node = rclpy.create_node('test_src')
    pub = pub_node.create_publisher(ShelfEvent, '/shelves/events', qos_for_topic('/shelves/events', True))
    ex = SingleThreadedExecutor()
    ex.add_node(rec)
    ex.add_node(pub_node)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and pub.get_subscription_count() == 0:
        ex.spin_once(timeout_sec=0.1)
    for i in range(5):
        ev = ShelfEvent(event_id=f'e{i}', shelf_id='S1', quantity=1)
        ev.header.stamp.sec = 1_780_000_000 + i
        pub.publish(ev)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and rec.counts.get('/shelves/events', 0) < 5:
        ex.spin_once(timeout_sec=0.1)
    rec.destroy_node()
    pub_node.destroy_node()
    src = BagSource(out)
    msgs = list(src.messages())
    assert [t for _, t, _ in msgs] == [(1_780_000_000 + i) * 10**9 for i in range(5)]
    from walkout_core.bagio import typestore
    assert typestore().deserialize_cdr(msgs[3][2], 'walkout_msgs/msg/ShelfEvent').event_id == 'e3'


@pytest.mark.xfail(strict=False, reason='known defect, open in issue 7: in free-running mode with progress topics '
                   'the player sometimes stalls up to stall_timeout_s waiting for progress that the graph has '
                   'published (seen 1 run in 3); the scoring replay uses lock step and is not affected')
def test_player_waits_for_the_graph(ros, tmp_path):
    """With a progress topic, the player stays within max_lag_s of what the graph has published."""
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.parameter import Parameter
    from walkout_msgs.msg import AvatarArray, LoadCellReadings
    from walkout_nodes.bag_player import BagPlayer, qos_for_topic
    bag = write_bag(tmp_path / 'b', duration_s=3.0)
    echo = rclpy.create_node('test_slow_graph')
    pub = echo.create_publisher(AvatarArray, '/tracking/avatars', qos_for_topic('/tracking/avatars', True))
    lags = []
    player = None

    def on_cells(msg):
        time.sleep(0.01)                                  # a graph slower than the player
        if player is not None and player.bag_time_ns is not None:
            lags.append((player.bag_time_ns - (msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)) * 1e-9)
        pub.publish(AvatarArray(header=msg.header))
    echo.create_subscription(LoadCellReadings, '/shelves/load_cells', on_cells, qos_for_topic('/shelves/load_cells',
                                                                                               True))
    player = BagPlayer(parameter_overrides=[
        Parameter('bag', value=str(bag)), Parameter('rate', value=0.0), Parameter('wait_for_subscribers_s', value=10.0),
        Parameter('progress_topics', value=['/tracking/avatars']), Parameter('max_lag_s', value=0.2),
        Parameter('stall_timeout_s', value=5.0)])
    ex = MultiThreadedExecutor(num_threads=2)
    ex.add_node(echo)
    ex.add_node(player)
    spinner = threading.Thread(target=ex.spin, daemon=True)
    spinner.start()
    player.start()
    assert player.done.wait(timeout=30.0), 'the player did not finish'
    deadline = time.monotonic() + 5.0
    while len(lags) < 61 and time.monotonic() < deadline:
        time.sleep(0.05)
    ex.shutdown()
    spinner.join(timeout=5.0)
    assert player.error is None
    assert len(lags) == 61
    assert max(lags) <= 0.2 + 0.05 + 1e-6      # max_lag_s + one sample period
    assert player.waited_for_graph_s > 0.0
    player.destroy_node()
    echo.destroy_node()


def test_player_does_not_wait_for_a_silent_graph(ros, tmp_path):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from walkout_nodes.bag_player import BagPlayer
    bag = write_bag(tmp_path / 'b', duration_s=3.0)
    player = BagPlayer(parameter_overrides=[
        Parameter('bag', value=str(bag)), Parameter('rate', value=0.0),
        Parameter('progress_topics', value=['/tracking/avatars']), Parameter('max_lag_s', value=0.2),
        Parameter('stall_timeout_s', value=0.3)])
    ex = SingleThreadedExecutor()
    ex.add_node(player)
    t0 = time.monotonic()
    player.start()
    while not player.done.is_set() and time.monotonic() - t0 < 20:
        ex.spin_once(timeout_sec=0.05)
    assert player.error is None and player.published == 61
    assert time.monotonic() - t0 < 3.0          # one stall timeout, not one per message
    player.destroy_node()
