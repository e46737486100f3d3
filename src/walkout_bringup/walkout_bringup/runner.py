"""Run the store graph without launch_ros: ``./walkout run --layout <name> [--bag <dir>] [--rate R] [--processes]``.

The node list comes from :func:`walkout_bringup.graph.node_list` (the same one the launch
file uses). In one process (default) every node is ``walkout_nodes.<executable>.NODE_CLASS(
node_name=..., parameter_overrides=[...])`` in one executor (``--executor single``, the default,
or ``multi``: rclpy's Jazzy ``MultiThreadedExecutor`` re-submits callbacks still queued in its pool,
ros2/rclpy#1452, fixed upstream by #1547, and under load delays callbacks by seconds); with
``--processes`` each node runs in a process of its own (``python -m walkout_bringup.runner
--single <json>``), which uses every core. With ``--bag`` a bag player feeds the graph.
Ctrl-C or SIGTERM stops everything cleanly.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from walkout_bringup.graph import NodeSpec, node_list, replay_overrides

_LOG = logging.getLogger('walkout.run')

__all__ = ['load_node_class', 'ros_parameters', 'InProcessGraph', 'ProcessGraph', 'main']


class NodeUnavailable(RuntimeError):
    """A node's module or class cannot be loaded."""


def _shared_layout_loader() -> Any:
    """``walkout_core.layout.load_layout`` memoised per file (path, mtime) for nodes in one process.

    A layout is immutable (frozen dataclasses), so the nodes of one process can share it; the
    flash layout takes ~0.7 s to parse, and the flash graph has ~66 nodes.
    """
    import walkout_core.layout as layout_mod
    current = layout_mod.load_layout
    if getattr(current, 'walkout_shared', False):
        return current
    cache: dict[tuple[str, int], Any] = {}
    lock = threading.Lock()

    def load_layout(name_or_path: Any) -> Any:
        path = layout_mod.resolve_layout_path(name_or_path)
        try:
            key = (str(path.resolve()), path.stat().st_mtime_ns)
        except OSError:
            return current(name_or_path)        # the original error message
        with lock:
            if key not in cache:
                cache[key] = current(name_or_path)
            return cache[key]
    load_layout.walkout_shared = True  # type: ignore[attr-defined]
    load_layout.original = current  # type: ignore[attr-defined]
    layout_mod.load_layout = load_layout
    return load_layout


def load_node_class(executable: str, package: str = 'walkout_nodes', share_layouts: bool = False) -> type:
    """``walkout_nodes.<executable>.NODE_CLASS``; :class:`NodeUnavailable` with the reason otherwise.

    ``share_layouts``: the module's ``load_layout`` becomes the per-process memoised one.
    """
    try:
        module = importlib.import_module(f'{package}.{executable}')
    except ImportError as exc:
        raise NodeUnavailable(f'{package}.{executable} cannot be imported: {exc}') from exc
    if share_layouts:
        shared = _shared_layout_loader()
        if getattr(module, 'load_layout', None) is getattr(shared, 'original', None):
            module.load_layout = shared
    cls = getattr(module, 'NODE_CLASS', None)
    if cls is None:
        raise NodeUnavailable(f'{package}.{executable} has no NODE_CLASS')
    return cls


def ros_parameters(params: dict[str, Any] | Iterable[tuple[str, Any]]) -> list:
    """Plain values -> ``rclpy.parameter.Parameter`` (empty lists and None are left out: no type)."""
    from rclpy.parameter import Parameter
    items = params.items() if isinstance(params, dict) else params
    out = []
    for name, value in items:
        if value is None or (isinstance(value, (list, tuple)) and not value):
            continue
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, list) and any(isinstance(v, float) for v in value) \
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            value = [float(v) for v in value]
        out.append(Parameter(name, value=value))
    return out


@dataclass
class StartReport:
    started: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)   # node name -> reason


class InProcessGraph:
    """Every node of ``specs`` in this process, one executor spinning in a background thread."""

    def __init__(self, specs: list[NodeSpec], *, context: Any = None, num_threads: int | None = None,
                 strict: bool = False, executor: str = 'single', node_kwargs: dict[str, Any] | None = None):
        import rclpy
        from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
        self.specs = specs
        self.context = context
        self.nodes: dict[str, Any] = {}
        self.report = StartReport()
        kw = {'context': context} if context is not None else {}
        if executor == 'single':
            self.executor = SingleThreadedExecutor(**kw)
        else:
            self.executor = MultiThreadedExecutor(num_threads=num_threads or max(2, os.cpu_count() or 2), **kw)
        for spec in specs:
            try:
                cls = load_node_class(spec.executable, spec.package, share_layouts=True)
                extra = dict(node_kwargs or {})
                if context is not None:
                    extra['context'] = context
                node = cls(node_name=spec.name, parameter_overrides=ros_parameters(spec.parameters), **extra)
            except Exception as exc:  # noqa: BLE001 - one bad node must not stop the others
                if strict:
                    raise
                self.report.failed[spec.name] = f'{type(exc).__name__}: {exc}'
                continue
            self.nodes[spec.name] = node
            self.executor.add_node(node)
            self.report.started.append(spec.name)
        self._rclpy = rclpy
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.spin_error: BaseException | None = None
        self.callback_errors = 0

    def add_node(self, name: str, node: Any) -> None:
        self.nodes[name] = node
        self.executor.add_node(node)

    def start(self) -> 'InProcessGraph':
        self._thread = threading.Thread(target=self._spin, name='graph_executor', daemon=True)
        self._thread.start()
        return self

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException
        while not self._stop.is_set() and self.executor.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.1)
            except (ExternalShutdownException, KeyboardInterrupt):
                return
            except Exception as exc:  # noqa: BLE001 - a node's callback bug must not stop the other nodes
                self.callback_errors += 1
                if self.spin_error is None:
                    self.spin_error = exc
                    _LOG.warning('a node callback raised %s: %s (the graph goes on; further ones are counted)',
                                 type(exc).__name__, exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        self.executor.shutdown(timeout_sec=2.0)
        for node in self.nodes.values():
            try:
                node.destroy_node()
            except Exception:  # noqa: BLE001 - best effort at shutdown
                pass
        self.nodes.clear()


class ProcessGraph:
    """One OS process per node (``python -m walkout_bringup.runner --single <json>``)."""

    def __init__(self, specs: list[NodeSpec], env: dict[str, str] | None = None, log_dir: str | None = None):
        self.specs = specs
        self.procs: dict[str, subprocess.Popen] = {}
        self._env = dict(os.environ if env is None else env)
        self._log_dir = log_dir

    def start(self) -> 'ProcessGraph':
        for spec in self.specs:
            out = None
            if self._log_dir:
                os.makedirs(self._log_dir, exist_ok=True)
                out = open(os.path.join(self._log_dir, f'{spec.name}.log'), 'w')  # noqa: SIM115 - owned by the child
            self.procs[spec.name] = subprocess.Popen(
                [sys.executable, '-m', 'walkout_bringup.runner', '--single', json.dumps(spec_to_json(spec))],
                env=self._env, stdout=out, stderr=subprocess.STDOUT if out else None)
        return self

    def alive(self) -> dict[str, bool]:
        return {n: p.poll() is None for n, p in self.procs.items()}

    def cpu_seconds(self) -> dict[str, float]:
        """user + system CPU time of each node process so far [s] (from /proc)."""
        tick = os.sysconf('SC_CLK_TCK')
        out = {}
        for name, p in self.procs.items():
            try:
                with open(f'/proc/{p.pid}/stat') as f:
                    fields = f.read().rsplit(')', 1)[1].split()
                out[name] = (int(fields[11]) + int(fields[12])) / tick
            except (OSError, IndexError, ValueError):
                out[name] = float('nan')
        return out

    def stop(self, timeout_s: float = 10.0) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout_s
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def make_event_marker_node(lifetime_s: float = 10.0) -> Any:
    """A node that shows shelf events and alerts in rviz: ``/store/event_markers`` (MarkerArray, ``map``).

    Shelf events are green (taken) or blue (put back) spheres at the lane front with the product
    and quantity as text; alerts are red cubes with their message. Both fade after ``lifetime_s``.
    """
    from builtin_interfaces.msg import Duration
    from rclpy.node import Node
    from visualization_msgs.msg import Marker, MarkerArray
    from walkout_msgs.msg import ShelfEvent, StoreAlert
    from walkout_nodes.common import EVENT_QOS

    node = Node('event_markers')
    pub = node.create_publisher(MarkerArray, '/store/event_markers', 100)
    life = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1) * 1e9))
    counter = [0]

    def marker(ns: str, header: Any, pos: Any, rgb: tuple, text: str, shape: int) -> list:
        counter[0] += 1
        out = []
        for i, (typ, scale, z) in enumerate(((shape, 0.18, 0.0), (Marker.TEXT_VIEW_FACING, 0.15, 0.3))):
            m = Marker()
            m.header.frame_id = 'map'
            m.header.stamp = header.stamp
            m.ns, m.id, m.type, m.action = ns, counter[0] * 2 + i, typ, Marker.ADD
            m.pose.position.x, m.pose.position.y, m.pose.position.z = float(pos.x), float(pos.y), float(pos.z) + z
            m.pose.orientation.w = 1.0
            m.scale.x = m.scale.y = m.scale.z = scale
            m.color.r, m.color.g, m.color.b, m.color.a = (*rgb, 0.9)
            m.lifetime = life
            if typ == Marker.TEXT_VIEW_FACING:
                m.text = text
            out.append(m)
        return out

    def on_event(ev: Any) -> None:
        rgb = (0.1, 0.8, 0.2) if ev.quantity > 0 else (0.2, 0.4, 1.0)
        pub.publish(MarkerArray(markers=marker('shelf_events', ev.header, ev.lane_position, rgb,
                                               f'{ev.product_id or "?"} {ev.quantity:+d}', Marker.SPHERE)))

    def on_alert(al: Any) -> None:
        pub.publish(MarkerArray(markers=marker('alerts', al.header, al.location, (1.0, 0.15, 0.1),
                                               al.message[:60], Marker.CUBE)))
    node.create_subscription(ShelfEvent, '/shelves/events', on_event, EVENT_QOS)
    node.create_subscription(StoreAlert, '/alerts', on_alert, EVENT_QOS)
    return node


def spec_to_json(spec: NodeSpec) -> dict[str, Any]:
    d = asdict(spec)
    d['parameters'] = dict(spec.parameters)
    d['remappings'] = [list(r) for r in spec.remappings]
    return d


def spec_from_json(d: dict[str, Any]) -> NodeSpec:
    return NodeSpec(d['package'], d['executable'], d['name'], d.get('parameters', {}),
                    tuple(tuple(r) for r in d.get('remappings', ())), d.get('host', 'core'))


def _run_single(spec_json: str) -> int:
    """Child of ``--processes``: one node, spun until SIGINT/SIGTERM."""
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    spec = spec_from_json(json.loads(spec_json))
    rclpy.init()
    signal.signal(signal.SIGTERM, lambda *_: rclpy.try_shutdown())
    node = None
    try:
        cls = load_node_class(spec.executable, spec.package)
        node = cls(node_name=spec.name, parameter_overrides=ros_parameters(spec.parameters))
        if hasattr(node, 'start') and spec.executable == 'bag_player':
            node.start()
        ex = SingleThreadedExecutor()
        ex.add_node(node)
        while rclpy.ok():
            ex.spin_once(timeout_sec=0.2)
            if spec.executable == 'bag_player' and node.done.is_set():
                break
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except NodeUnavailable as exc:
        print(f'walkout run: {spec.name}: {exc}', file=sys.stderr)
        return 3
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def player_parameters(bag: str, rate: float, **extra: Any) -> dict[str, Any]:
    """The bag player's parameters: ``params/bag_player.yaml`` + this replay's."""
    from walkout_bringup.graph import load_node_params
    p = load_node_params('bag_player')
    p.update({'bag': bag, 'rate': rate, 'wait_for_subscribers_s': 10.0, 'use_sim_time': False})
    p.update(extra)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['--single']:
        return _run_single(argv[1])
    ap = argparse.ArgumentParser(prog='walkout run', description='Run the store graph from a layout.')
    ap.add_argument('--layout', default='small', help='layout name or path (default small)')
    ap.add_argument('--bag', help='play this rosbag2 bag into the graph (else live sensors)')
    ap.add_argument('--rate', type=float, default=1.0, help='bag playback speed (0 = as fast as possible)')
    ap.add_argument('--processes', action='store_true', help='one process per node (uses every core)')
    ap.add_argument('--cameras-per-detection-node', type=int, default=1)
    ap.add_argument('--executor', choices=('multi', 'single'), default='single',
                    help='one process: single-threaded executor (default) or rclpy\'s MultiThreadedExecutor '
                         '(Jazzy: callbacks late by seconds under load, ros2/rclpy#1452)')
    ap.add_argument('--list', action='store_true', help='print the node list and exit')
    ap.add_argument('--duration', type=float, default=0.0, help='stop after this many wall seconds (0 = never)')
    ap.add_argument('--keep-running', action='store_true', help='with --bag: keep the graph running after the bag')
    ap.add_argument('--tail', type=float, default=3.0, help='with --bag: seconds the graph gets after the bag ended')
    ns = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s', stream=sys.stderr)
    source = 'bag' if ns.bag else 'live'
    overrides = None
    if ns.bag and not ns.list:
        from walkout_core.bagio import bag_topics
        from walkout_nodes.bag_player import BagError, BagSource
        try:
            BagSource(ns.bag).close()
        except BagError as exc:
            print(f'walkout run: {exc}', file=sys.stderr)
            return 2
        overrides = replay_overrides(bag_topics(ns.bag))
    try:
        specs = node_list(ns.layout, source=source, cameras_per_detection_node=ns.cameras_per_detection_node,
                          overrides=overrides)
    except (ValueError, FileNotFoundError) as exc:
        print(f'walkout run: {exc}', file=sys.stderr)
        return 2
    if ns.list:
        for s in specs:
            print(f'{s.host:<8} {s.package}/{s.executable:<20} {s.name}')
        return 0
    stop = threading.Event()

    def _on_signal(*_: Any) -> None:
        stop.set()
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if ns.processes:
            return _main_processes(ns, specs, stop)
        return _main_in_process(ns, specs, stop)
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _wait(stop: threading.Event, ns: argparse.Namespace, done: Any) -> None:
    t0 = time.monotonic()
    while not stop.is_set():
        if ns.duration and time.monotonic() - t0 > ns.duration:
            break
        if done():
            break
        time.sleep(0.2)


def _main_in_process(ns: argparse.Namespace, specs: list[NodeSpec], stop: threading.Event) -> int:
    import rclpy
    from rclpy.signals import SignalHandlerOptions
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    graph = InProcessGraph(specs, executor=ns.executor)
    for name, reason in graph.report.failed.items():
        print(f'walkout run: {name} not started: {reason}', file=sys.stderr)
    print(f'walkout run: {len(graph.report.started)}/{len(specs)} nodes running in one process '
          f'(layout {ns.layout}); Ctrl-C stops', file=sys.stderr)
    player = None
    try:
        graph.add_node('event_markers', make_event_marker_node())
        if ns.bag:
            from walkout_nodes.bag_player import BagPlayer
            player = BagPlayer(parameter_overrides=ros_parameters(player_parameters(ns.bag, ns.rate)))
            graph.add_node('bag_player', player)
        graph.start()
        if player is not None:
            player.start()
        _wait(stop, ns, (lambda: player.done.is_set() and not ns.keep_running) if player is not None
              else (lambda: False))
        if player is not None and player.done.is_set() and not stop.is_set():
            stop.wait(ns.tail)                  # the graph finishes what the bag gave it
        if player is not None and player.error is not None:
            print(f'walkout run: {player.error}', file=sys.stderr)
            return 1
        if player is not None and player.done.is_set():
            rtf = player.realtime_factor
            print(f'walkout run: bag played ({player.published} messages'
                  + (f', realtime factor {rtf:.2f})' if rtf else ')'), file=sys.stderr)
        return 0 if not graph.report.failed else 1
    finally:
        graph.stop()
        rclpy.try_shutdown()


def _main_processes(ns: argparse.Namespace, specs: list[NodeSpec], stop: threading.Event) -> int:
    from walkout_bringup.graph import NodeSpec as Spec
    all_specs = list(specs)
    if ns.bag:
        all_specs.append(Spec('walkout_nodes', 'bag_player', 'bag_player', player_parameters(ns.bag, ns.rate)))
    graph = ProcessGraph(all_specs).start()
    print(f'walkout run: {len(all_specs)} node processes (layout {ns.layout}); Ctrl-C stops', file=sys.stderr)
    try:
        _wait(stop, ns, lambda: ns.bag is not None and not ns.keep_running
              and not graph.alive().get('bag_player', True))
        if ns.bag is not None and not stop.is_set():
            stop.wait(ns.tail)
        dead = [n for n, a in graph.alive().items() if not a and n != 'bag_player']
        for n in dead:
            print(f'walkout run: {n} exited with {graph.procs[n].returncode}', file=sys.stderr)
        return 1 if dead else 0
    finally:
        graph.stop()


if __name__ == '__main__':
    sys.exit(main())
