"""Play a rosbag2 bag (rosbags reader) onto the ROS graph, serialized messages as they are.

Messages go out in bag-timestamp order, with the bag's timing scaled by ``rate``
(``rate: 0`` = as fast as the graph keeps up). ``/clock`` follows the bag time so
nodes can run with ``use_sim_time``. ``/truth/*`` is skipped unless asked for
(ground truth is for scoring only).

*Waiting for the graph* (for scoring replays): with ``progress_topics`` set
(e.g. ``/tracking/avatars``), the player reads the ``header.stamp`` of what the graph
publishes there and never gets more than ``max_lag_s`` of bag time ahead of it
(unless the graph stays silent for ``stall_timeout_s`` of wall time). Together with
reliable, deep queues this keeps the replay lossless at any speed. The progress topics are
heard on a hidden node spun by a thread of the player's own, so the wait never depends on the
executor that spins the player (see :class:`_ProgressListener`).

Errors (missing, corrupt or truncated bag, unknown message type, topic not in the
bag) raise :class:`BagError` with a message that names the bag and the problem.

``./walkout play <bag> [--rate R] [--topics ...] [--loop]`` or ``ros2 run walkout_nodes bag_player
--ros-args -p bag:=<dir>``.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import struct
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.task import Future

from rosgraph_msgs.msg import Clock
from walkout_core.config import param, validate
from walkout_nodes.common import EVENT_QOS, LATCHED_QOS, declare_config, sensor_qos, split_ros_args

__all__ = ['BagPlayerConfig', 'BagPlayer', 'BagError', 'BagSource', 'GraphProgress', 'Pacer', 'message_class',
           'header_stamp_ns', 'qos_for_topic', 'NODE_CLASS', 'main']


class BagError(RuntimeError):
    """The bag cannot be played: the message names the bag and the reason."""


@dataclass(frozen=True)
class BagPlayerConfig:
    bag: str = param('', '-', 'rosbag2 directory (or its .mcap/.db3 file) to play')
    rate: float = param(1.0, 'x', 'playback speed relative to the recording; 0 = as fast as the graph keeps up',
                        min_value=0.0, max_value=1000.0)
    topics: list = param([''], '-', 'topics to play (empty = every topic of the bag except skipped ones)')
    skip_truth: bool = param(True, '-', 'leave out /truth/* (ground truth is for scoring only)')
    publish_clock: bool = param(True, '-', 'publish /clock with the bag time (for use_sim_time)')
    clock_period_s: float = param(0.01, 's', 'bag-time period of /clock messages', min_value=0.0, max_value=10.0)
    reliable_sensors: bool = param(True, '-', 'publish sensor topics reliable (replay for scoring) or best effort')
    start_offset_s: float = param(0.0, 's', 'skip this much of the bag at its start', min_value=0.0, max_value=1e7)
    wait_for_subscribers_s: float = param(0.0, 's', 'wait up to this long (wall) until every played topic has a '
                                          'subscriber and every progress topic a publisher',
                                          min_value=0.0, max_value=600.0)
    progress_topics: list = param([''], '-', 'graph outputs whose header.stamp shows how far the graph got')
    max_lag_s: float = param(1.0, 's', 'bag time the player may run ahead of the progress topics',
                             min_value=0.0, max_value=3600.0)
    stall_timeout_s: float = param(1.0, 's', 'wall time after which a silent progress topic no longer holds the '
                                   'player back', min_value=0.0, max_value=600.0)
    loop: bool = param(False, '-', 'start again at the end')
    shutdown_when_done: bool = param(True, '-', 'stop the process when the bag has been played (main() only)')

    def check(self) -> None:
        if not self.bag:
            raise ValueError("parameter 'bag': '' : the bag directory is required")


# --------------------------------------------------------------------------- helpers (no ROS state)
def message_class(msgtype: str) -> type:
    """``pkg/msg/Name`` -> the generated Python class; ``BagError`` if it is not installed here."""
    parts = msgtype.split('/')
    if len(parts) == 2:
        parts = [parts[0], 'msg', parts[1]]
    if len(parts) != 3 or not all(parts):
        raise BagError(f'message type {msgtype!r} is not of the form package/msg/Name')
    pkg, kind, name = parts
    try:
        module = importlib.import_module(f'{pkg}.{kind}')
    except ImportError as exc:
        raise BagError(f'unknown message type {msgtype!r}: Python module {pkg}.{kind} is not installed '
                       f'(build/source the interface package): {exc}') from None
    cls = getattr(module, name, None)
    if cls is None:
        raise BagError(f'unknown message type {msgtype!r}: {pkg}.{kind} has no {name}')
    return cls


def header_stamp_ns(data: bytes) -> int | None:
    """Stamp [ns] of a CDR-serialized message that starts with a Header or a Time, else None."""
    if len(data) < 12:
        return None
    little = data[1] in (0x01, 0x03, 0x07, 0x09, 0x0b)
    sec, nsec = struct.unpack('<iI' if little else '>iI', data[4:12])
    if nsec >= 1_000_000_000:
        return None
    return sec * 1_000_000_000 + nsec


def qos_for_topic(topic: str, reliable_sensors: bool) -> QoSProfile:
    """QoS of a walkout topic as in the architecture table (sensors depend on ``reliable_sensors``)."""
    if topic.startswith('/camera/') or topic == '/shelves/load_cells':
        return sensor_qos(reliable_sensors)
    if topic in ('/baskets/state',) or (topic.startswith('/checkout/') and topic.endswith('/tablet')):
        return LATCHED_QOS
    if topic in ('/tracking/markers', '/diagnostics', '/clock'):
        return QoSProfile(depth=10)
    return EVENT_QOS


class Pacer:
    """When to send a message of bag time ``t_ns``: wall start + (t - t0) / rate (rate 0: now)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._t0: int | None = None
        self._wall0 = 0.0

    def reset(self) -> None:
        self._t0 = None

    def due_in(self, t_ns: int) -> float:
        """Seconds of wall time until the message is due (<= 0: due now)."""
        if self._t0 is None:
            self._t0, self._wall0 = t_ns, self._clock()
        if self.rate <= 0:
            return 0.0
        return self._wall0 + (t_ns - self._t0) * 1e-9 / self.rate - self._clock()

    def wait(self, t_ns: int, stop: threading.Event | None = None) -> None:
        while True:
            d = self.due_in(t_ns)
            if d <= 0:
                return
            if stop is not None:
                if stop.wait(min(d, 0.1)):
                    return
            else:
                self._sleep(d)


class BagSource:
    """The bag's connections and messages in timestamp order, with clear errors."""

    def __init__(self, path: str | Path, topics: list[str] | None = None, skip_truth: bool = True):
        from rosbags.rosbag2 import Reader
        from rosbags.rosbag2.errors import ReaderError
        self.path = Path(path)
        if self.path.is_file() and self.path.suffix in ('.mcap', '.db3'):
            self.path = self.path.parent
        if not self.path.exists():
            raise BagError(f'bag {str(self.path)!r} does not exist')
        self._reader = Reader(self.path)
        try:
            self._reader.open()
        except ReaderError as exc:
            raise BagError(f'bag {str(self.path)!r} cannot be opened (corrupt, truncated or not a rosbag2 bag): {exc}') from None
        except Exception as exc:  # noqa: BLE001 - storage plugins raise their own errors on bad files
            raise BagError(f'bag {str(self.path)!r} cannot be opened (corrupt or truncated?): '
                           f'{type(exc).__name__}: {exc}') from None
        conns = list(self._reader.connections)
        in_bag = sorted({c.topic for c in conns})
        wanted = [t for t in (topics or []) if t]
        missing = sorted(set(wanted) - set(in_bag))
        if missing:
            self.close()
            raise BagError(f'bag {str(self.path)!r} has no topic(s) {missing}; it has {in_bag}')
        if wanted:
            conns = [c for c in conns if c.topic in wanted]
        elif skip_truth:
            conns = [c for c in conns if not c.topic.startswith('/truth/')]
        self.connections = conns
        self.types: dict[str, str] = {}
        for c in conns:
            if self.types.setdefault(c.topic, c.msgtype) != c.msgtype:
                self.close()
                raise BagError(f'bag {str(self.path)!r}: topic {c.topic} has two message types '
                               f'{self.types[c.topic]} and {c.msgtype}')

    @property
    def start_ns(self) -> int:
        return int(self._reader.start_time)

    @property
    def end_ns(self) -> int:
        return int(self._reader.end_time)

    @property
    def duration_s(self) -> float:
        return max(0.0, (self.end_ns - self.start_ns) * 1e-9)

    def message_count(self) -> int:
        return sum(int(c.msgcount) for c in self.connections)

    def messages(self, start_ns: int | None = None) -> Iterator[tuple[str, int, bytes]]:
        """(topic, bag time [ns], serialized bytes); ``BagError`` if the bag ends in the middle."""
        if not self.connections:
            return
        try:
            for conn, t_ns, data in self._reader.messages(connections=self.connections, start=start_ns):
                yield conn.topic, int(t_ns), bytes(data)
        except BagError:
            raise
        except Exception as exc:  # noqa: BLE001 - truncated files surface as various decoder errors
            raise BagError(f'bag {str(self.path)!r} is corrupt or truncated: {type(exc).__name__}: {exc}') from None

    def close(self) -> None:
        try:
            self._reader.close()
        except Exception:  # noqa: BLE001 - closing a half-opened reader
            pass


class GraphProgress:
    """How far the graph got (the least ``header.stamp`` over the progress topics heard) and the wait for it.

    ``on_message`` runs in the subscription callbacks and wakes ``wait`` (the player thread) at once;
    ``wake`` makes ``wait`` look at its stop event. No ROS in here.
    """

    def __init__(self, max_lag_s: float, stall_timeout_s: float):
        self.max_lag_s = max_lag_s
        self.stall_timeout_s = stall_timeout_s
        self._stamps: dict[str, int] = {}
        self._heard_wall = time.monotonic()
        self._changed = threading.Condition()

    def on_message(self, topic: str, data: bytes) -> None:
        """A serialized progress message (CDR, starting with a Header) arrived on ``topic``."""
        stamp = header_stamp_ns(data)
        if stamp is None:
            return
        with self._changed:
            if stamp > self._stamps.get(topic, -1):
                self._stamps[topic] = stamp
                self._heard_wall = time.monotonic()
                self._changed.notify_all()

    def time_ns(self) -> int | None:
        """The least stamp reached by the progress topics heard so far (None before any)."""
        with self._changed:
            return self._time_ns()

    def _time_ns(self) -> int | None:
        return min(self._stamps.values()) if self._stamps else None

    def wake(self) -> None:
        """Wake ``wait`` so that it sees its stop event."""
        with self._changed:
            self._changed.notify_all()

    def wait(self, t_ns: int, first_ns: int | None, started_wall: float, stop: threading.Event) -> None:
        """Block until a message of bag time ``t_ns`` may go out, or ``stop`` is set.

        ``first_ns`` is the bag time of the first message played, ``started_wall`` when playing started.
        """
        with self._changed:
            while not stop.is_set():
                wait_s = self._wait_s(t_ns, first_ns, started_wall)
                if wait_s <= 0.0:
                    return
                self._changed.wait(wait_s)

    def _wait_s(self, t_ns: int, first_ns: int | None, started_wall: float) -> float:
        """Wall seconds the message has yet to wait (<= 0: send it); the caller holds the lock.

        A message more than ``max_lag_s`` ahead of the graph waits until the graph has been silent
        for ``stall_timeout_s`` (since its last output, or since playing started); before anything
        is heard, the first ``max_lag_s`` of the bag go through.
        """
        lag_ns = int(self.max_lag_s * 1e9)
        g = self._time_ns()
        if g is None:
            ahead = first_ns is not None and t_ns - first_ns > lag_ns
        else:
            ahead = t_ns - g > lag_ns
        if not ahead:
            return 0.0
        return max(self._heard_wall, started_wall) + self.stall_timeout_s - time.monotonic()


class _WakingEvent(threading.Event):
    """An Event whose ``set()`` also calls ``on_set`` (to wake waits on other conditions at once)."""

    def __init__(self, on_set: Callable[[], None]):
        super().__init__()
        self._on_set = on_set

    def set(self) -> None:
        super().set()
        self._on_set()


class _ProgressListener:
    """The progress subscriptions, on a hidden node of their own spun by a thread of their own.

    They must not depend on the executor that spins the player and the graph: rclpy's (Jazzy)
    ``MultiThreadedExecutor`` hands a callback that still waits in its thread pool out again and
    again (ros2/rclpy#1452, fixed upstream by ros2/rclpy#1547); the spinning thread then hogs the GIL
    and callbacks of that executor run up to seconds late, so progress that the graph published
    would reach the player late and hold it back for nothing.
    """

    def __init__(self, owner: Node, classes: dict[str, type], on_progress: Callable[[str, bytes], None]):
        self._log = owner.get_logger()
        self.node = Node(f'_{owner.get_name()}_progress', namespace=owner.get_namespace(), context=owner.context,
                         start_parameter_services=False)
        self._subs = {topic: self.node.create_subscription(cls, topic, lambda data, t=topic: on_progress(t, data),
                                                           qos_for_topic(topic, True), raw=True)
                      for topic, cls in sorted(classes.items())}
        self._executor = SingleThreadedExecutor(context=owner.context)
        self._executor.add_node(self.node)
        self._closed = Future()
        self._thread = threading.Thread(target=self._spin, name=f'{owner.get_name()}_progress', daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._closed.done() and self._executor.context.ok():
            try:
                self._executor.spin_until_future_complete(self._closed)
            except ExternalShutdownException:
                return
            except Exception as exc:  # noqa: BLE001 - one bad message must not deafen the player
                self._log.error(f'progress callback failed: {type(exc).__name__}: {exc}')

    def topics_without_publisher(self) -> list[str]:
        """Progress topics whose publishers this node has not matched yet (their output would be lost)."""
        return sorted(t for t, sub in self._subs.items() if sub.get_publisher_count() == 0)

    def close(self) -> None:
        """Stop the thread (at once: completing the future wakes the executor) and destroy the node."""
        if not self._closed.done():
            self._closed.set_result(None)
        self._thread.join(timeout=5.0)
        self._executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()


# --------------------------------------------------------------------------- node
class BagPlayer(Node):
    """Publishes a bag's serialized messages; ``start()`` plays it in a background thread."""

    def __init__(self, node_name: str = 'bag_player', **kwargs: Any):
        super().__init__(node_name, **kwargs)
        self.cfg: BagPlayerConfig = declare_config(self, BagPlayerConfig)
        self.source = BagSource(self.cfg.bag, [t for t in self.cfg.topics if t], self.cfg.skip_truth)
        self._pubs: dict[str, Any] = {}
        for topic, msgtype in sorted(self.source.types.items()):
            self._pubs[topic] = self.create_publisher(message_class(msgtype), topic,
                                                      qos_for_topic(topic, self.cfg.reliable_sensors))
        self._clock_pub = self.create_publisher(Clock, '/clock', 10) if self.cfg.publish_clock else None
        self._graph = GraphProgress(self.cfg.max_lag_s, self.cfg.stall_timeout_s)
        self.stop_event: threading.Event = _WakingEvent(self._graph.wake)
        self._progress_listener: _ProgressListener | None = None
        progress_classes = {t: self._progress_class(t) for t in self.cfg.progress_topics if t}
        if progress_classes:
            self._progress_listener = _ProgressListener(self, progress_classes, self._on_progress)
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.published = 0
        self.bag_time_ns: int | None = None
        self.wall_started: float | None = None
        self.wall_finished: float | None = None
        self.waited_for_graph_s = 0.0
        self._thread: threading.Thread | None = None
        self._first_ns: int | None = None
        self._last_clock: int | None = None
        self.add_on_set_parameters_callback(self._on_params)
        self.get_logger().info(
            f'bag {self.source.path}: {len(self._pubs)} topics, {self.source.message_count()} messages, '
            f'{self.source.duration_s:.1f} s, rate {self.cfg.rate or "max"}')

    # -- parameters: only the rate may change while playing
    def _on_params(self, params: list) -> Any:
        from rcl_interfaces.msg import SetParametersResult
        for p in params:
            if p.name == 'rate':
                try:
                    cfg = validate(dataclasses.replace(self.cfg, rate=float(p.value)))
                except (ValueError, TypeError) as exc:
                    return SetParametersResult(successful=False, reason=str(exc))
                self.cfg = cfg
            elif p.name in {f.name for f in dataclasses.fields(BagPlayerConfig)}:
                return SetParametersResult(successful=False, reason=f'{p.name} cannot change while playing')
        return SetParametersResult(successful=True)

    # -- graph progress
    def _progress_class(self, topic: str) -> type:
        msgtype = self.source.types.get(topic) or _known_type(topic)
        if msgtype is None:
            raise BagError(f'progress topic {topic!r}: unknown message type (not in the bag nor in {KNOWN_TYPES})')
        return message_class(msgtype)

    def _on_progress(self, topic: str, data: bytes) -> None:
        self._graph.on_message(topic, data)

    def graph_time_ns(self) -> int | None:
        """The least stamp reached by the progress topics heard so far (None before any)."""
        return self._graph.time_ns()

    def _wait_for_graph(self, t_ns: int) -> None:
        if not self._progress_topics_set:
            return
        t0 = time.monotonic()
        self._graph.wait(t_ns, self._first_ns, self.wall_started or t0, self.stop_event)
        self.waited_for_graph_s += time.monotonic() - t0

    @property
    def _progress_topics_set(self) -> bool:
        return any(self.cfg.progress_topics)

    # -- playing
    def wait_for_subscribers(self, timeout_s: float) -> list[str]:
        """Wait until every played topic has a subscriber and every progress topic a publisher.

        Returns the topics still unconnected. (Output of the graph published before its progress
        topic is matched is lost, and a graph that only answers input would then stay silent.)
        """
        deadline = time.monotonic() + timeout_s
        while True:
            lonely = self._unconnected_topics()
            if not lonely or time.monotonic() >= deadline or self.stop_event.is_set():
                return lonely
            time.sleep(0.05)

    def _unconnected_topics(self) -> list[str]:
        lonely = [t for t, p in self._pubs.items() if p.get_subscription_count() == 0]
        if self._progress_listener is not None:
            lonely += self._progress_listener.topics_without_publisher()
        return sorted(lonely)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name='bag_player', daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        try:
            if self.cfg.wait_for_subscribers_s > 0:
                lonely = self.wait_for_subscribers(self.cfg.wait_for_subscribers_s)
                if lonely:
                    self.get_logger().warning(f'playing although {lonely} are not connected (played topics '
                                              f'without subscriber, progress topics without publisher)')
            self.wall_started = time.monotonic()
            while True:
                self.play_once()
                if not self.cfg.loop or self.stop_event.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - reported to the owner of the thread
            self.error = exc
            self.get_logger().error(f'bag player stopped: {exc}')
        finally:
            self.wall_finished = time.monotonic()
            self.done.set()

    def play_once(self) -> None:
        pacer = Pacer(self.cfg.rate)
        self._first_ns = None
        start = self.source.start_ns + int(self.cfg.start_offset_s * 1e9) if self.cfg.start_offset_s else None
        for topic, t_ns, data in self.source.messages(start):
            if self.stop_event.is_set():
                return
            if self._first_ns is None:
                self._first_ns = t_ns
            pacer.rate = self.cfg.rate
            self._wait_for_graph(t_ns)
            pacer.wait(t_ns, self.stop_event)
            if self.stop_event.is_set():        # stopped while held back: the message stays unsent
                return
            self.publish(topic, t_ns, data)

    def publish(self, topic: str, t_ns: int, data: bytes) -> None:
        """Publish one serialized message of bag time ``t_ns`` (and /clock when it is due)."""
        if self._first_ns is None:
            self._first_ns = t_ns
            if self.wall_started is None:
                self.wall_started = time.monotonic()
        if self._clock_pub is not None and (self._last_clock is None or
                                            t_ns - self._last_clock >= int(self.cfg.clock_period_s * 1e9)):
            sec, nsec = divmod(t_ns, 1_000_000_000)
            msg = Clock()
            msg.clock.sec, msg.clock.nanosec = int(sec), int(nsec)
            self._clock_pub.publish(msg)
            self._last_clock = t_ns
        self._pubs[topic].publish(data)
        self.published += 1
        self.bag_time_ns = t_ns

    def wait_for_acks(self, timeout_s: float = 5.0) -> bool:
        """Wait until every reliable subscriber has every message published so far."""
        from rclpy.duration import Duration
        ok = True
        for p in self._pubs.values():
            ok = p.wait_for_all_acked(Duration(nanoseconds=int(timeout_s * 1e9))) and ok
        return ok

    @property
    def realtime_factor(self) -> float | None:
        """Bag seconds played per wall second."""
        if self.wall_started is None or self.bag_time_ns is None or self._first_ns is None:
            return None
        wall = (self.wall_finished or time.monotonic()) - self.wall_started
        return (self.bag_time_ns - self._first_ns) * 1e-9 / wall if wall > 0 else None

    def destroy_node(self) -> None:
        self.stop_event.set()
        if self._progress_listener is not None:
            self._progress_listener.close()
        self.source.close()
        super().destroy_node()


#: Graph outputs the player can wait on (topic -> type), see docs/ARCHITECTURE.md.
KNOWN_TYPES = {
    '/tracking/avatars': 'walkout_msgs/msg/AvatarArray',
    '/shelves/events': 'walkout_msgs/msg/ShelfEvent',
    '/baskets/state': 'walkout_msgs/msg/BasketArray',
    '/baskets/events': 'walkout_msgs/msg/BasketEvent',
    '/alerts': 'walkout_msgs/msg/StoreAlert',
    '/checkout/receipts': 'walkout_msgs/msg/Receipt',
    '/diagnostics': 'diagnostic_msgs/msg/DiagnosticArray',
}


def _known_type(topic: str) -> str | None:
    if topic in KNOWN_TYPES:
        return KNOWN_TYPES[topic]
    if topic.startswith('/camera/') and topic.endswith('/detections'):
        return 'walkout_msgs/msg/PersonDetectionArray'
    return None


NODE_CLASS = BagPlayer


def main(argv: list[str] | None = None) -> int:
    """``walkout play <bag> [--rate R] [--topics T ...] [--loop] [--no-clock] [--with-truth]`` or ``--ros-args``."""
    argv, ros_args = split_ros_args(argv)
    ap = argparse.ArgumentParser(prog='walkout play', description='Play a rosbag2 bag onto the ROS graph.')
    ap.add_argument('bag', nargs='?', help='bag directory')
    ap.add_argument('--rate', type=float, default=None, help='speed (1 = as recorded, 0 = as fast as possible)')
    ap.add_argument('--topics', nargs='*', default=None, help='topics to play (default: all but /truth/*)')
    ap.add_argument('--with-truth', action='store_true', help='also play /truth/*')
    ap.add_argument('--no-clock', action='store_true', help='do not publish /clock')
    ap.add_argument('--best-effort', action='store_true', help='sensor topics best effort (as live)')
    ap.add_argument('--loop', action='store_true')
    ns = ap.parse_args(argv)
    overrides = {}
    if ns.bag:
        overrides['bag'] = ns.bag
    if ns.rate is not None:
        overrides['rate'] = ns.rate
    if ns.topics:
        overrides['topics'] = ns.topics
    if ns.with_truth:
        overrides['skip_truth'] = False
    if ns.no_clock:
        overrides['publish_clock'] = False
    if ns.best_effort:
        overrides['reliable_sensors'] = False
    if ns.loop:
        overrides['loop'] = True
    from rclpy.parameter import Parameter
    rclpy.init(args=['walkout_play'] + ros_args)
    node = None
    try:
        try:
            node = BagPlayer(parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
        except (BagError, ValueError) as exc:
            print(f'walkout play: {exc}', file=sys.stderr)
            return 2
        # the player's own callbacks are parameter requests only (progress has a thread of its own)
        ex = SingleThreadedExecutor()
        ex.add_node(node)
        node.start()
        while rclpy.ok() and not (node.done.is_set() and node.cfg.shutdown_when_done):
            ex.spin_once(timeout_sec=0.1)
        if node.error is not None:
            print(f'walkout play: {node.error}', file=sys.stderr)
            return 1
        rtf = node.realtime_factor
        print(f'walkout play: {node.published} messages, realtime factor {rtf:.2f}' if rtf else
              f'walkout play: {node.published} messages')
        return 0
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    sys.exit(main())
