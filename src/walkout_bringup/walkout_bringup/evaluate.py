"""``./walkout eval <bag>``: replay a bag through the whole graph and score it against the bag's truth.

The graph (``graph.node_list(layout, source='bag', reliable_sensors=True)``) runs in this process
(or one process per node with ``--processes``), a bag player feeds it as fast as it keeps up
(stamp order, reliable deep queues, never more than ``--max-lag`` of bag time ahead of the
tracker's output), and a collector records what the graph says. ``/truth/*`` is read from the
bag with rosbags. The scoring functions of the other stages
(``walkout_core.eval.{shelf,tracking,basket}_metrics``) are imported lazily: a stage whose
module or node is missing or failed gives null for its keys, never a made-up figure.

Output: a readable report, then ONE line of JSON with every key and ``realtime_factor``
(bag seconds per wall second of the replay). ``--suite`` scores every scenario under
``params/scenarios/`` (generating missing bags into ``bags/generated/`` with the simulator) and
ends with an overall line that holds a ``scenarios`` object.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

__all__ = ['STAGE_KEYS', 'KEYS', 'pool_suite', 'guess_layout', 'read_truth', 'ReplayResult', 'replay', 'score',
           'evaluate_bag', 'run_suite', 'run_seeds', 'seed_spread', 'seeds_summary', 'parse_seeds', 'main']

_LOG = logging.getLogger('walkout.eval')

#: JSON keys of each stage (issues 4, 5, 6); a stage that did not run gives null for all of them.
STAGE_KEYS: dict[str, tuple[str, ...]] = {
    'shelf': ('event_precision', 'event_recall', 'product_accuracy', 'quantity_accuracy', 'misplaced_precision',
              'misplaced_recall', 'event_delay_p95_s'),
    'tracking': ('mota', 'idf1', 'id_switches_per_100_min', 'reach_error_p95_m'),
    'baskets': ('basket_exact_accuracy', 'item_precision', 'item_recall', 'review_rate', 'review_top1_accuracy',
                'receipt_latency_p50_s', 'receipt_latency_p95_s', 'receipt_exact_accuracy',
                'paying_shoppers_without_receipt', 'receipts_before_checkout'),
}
#: Figures that are counts: a suite adds them up (the others are rates, pooled or averaged).
COUNT_KEYS = ('paying_shoppers_without_receipt', 'receipts_before_checkout')
KEYS: tuple[str, ...] = tuple(k for ks in STAGE_KEYS.values() for k in ks) + ('realtime_factor',)
#: Nodes each stage's figures depend on (by executable).
STAGE_NODES: dict[str, tuple[str, ...]] = {
    'shelf': ('shelf_event_node',),
    'tracking': ('detection_node', 'tracker_node'),
    'baskets': ('shelf_event_node', 'detection_node', 'tracker_node', 'association_node', 'basket_node',
                'checkout_node'),
}
#: Which scoring function, and how it is called (module, function).
STAGE_FUNCS: dict[str, tuple[str, str]] = {
    'shelf': ('walkout_core.eval.shelf_metrics', 'shelf_metrics'),
    'tracking': ('walkout_core.eval.tracking_metrics', 'tracking_metrics'),
    'baskets': ('walkout_core.eval.basket_metrics', 'basket_metrics'),
}
#: Graph outputs collected (topic -> message type).
OUTPUT_TOPICS: dict[str, str] = {
    '/shelves/events': 'walkout_msgs/msg/ShelfEvent',
    '/alerts': 'walkout_msgs/msg/StoreAlert',
    '/tracking/avatars': 'walkout_msgs/msg/AvatarArray',
    '/baskets/events': 'walkout_msgs/msg/BasketEvent',
    '/baskets/state': 'walkout_msgs/msg/BasketArray',
    '/checkout/receipts': 'walkout_msgs/msg/Receipt',
}
#: Independent nodes of the first stage that the lock-step replay runs side by side.
PARALLEL_EXECUTABLES = ('detection_node',)
TRUTH_TOPICS = ('/truth/persons', '/truth/events', '/truth/baskets')
#: Parameters that name a node's on-disk state (SQLite): each replay gets fresh files.
STATE_PARAM_HINTS = ('db', 'database', 'sqlite', 'state_dir', 'state_path', 'receipts_path', 'store_path')


# --------------------------------------------------------------------------- layout and truth
def _layouts_dir() -> Path:
    from walkout_core.layout import params_dir
    return params_dir() / 'layouts'


def guess_layout(bag: str | Path) -> str:
    """The layout a bag was recorded in: metadata ``layout`` if present, else the layout whose camera
    ids (``/camera/<id>/...``) and shelf controllers match the bag's."""
    import yaml
    meta = Path(bag) / 'metadata.yaml'
    if meta.is_file():
        try:
            info = (yaml.safe_load(meta.read_text()) or {}).get('rosbag2_bagfile_information', {})
            custom = info.get('custom_data') or {}
            if custom.get('layout'):
                return str(custom['layout'])
        except yaml.YAMLError:
            pass
    from walkout_nodes.bag_player import BagSource
    src = BagSource(bag, skip_truth=False)
    try:
        cams = {t.split('/')[2] for t in src.types if t.startswith('/camera/') and t.count('/') >= 3}
    finally:
        src.close()
    from walkout_core.layout import load_layout
    best, best_score = None, -1.0
    for f in sorted(_layouts_dir().glob('*.yaml')):
        try:
            lay = load_layout(f)
        except Exception:  # noqa: BLE001 - an invalid layout file just does not match
            continue
        ids = {c.id for c in lay.cameras}
        score = len(ids & cams) / max(1, len(ids | cams)) if cams else 0.0
        if score > best_score:
            best, best_score = f.stem, score
    if best is None or best_score <= 0.0:
        raise ValueError(f'bag {bag}: cannot tell its layout (no camera topic matches a layout under '
                         f'{_layouts_dir()}); pass --layout')
    return best


def read_truth(bag: str | Path) -> dict[str, list[Any]]:
    """``/truth/*`` messages of the bag, deserialized with rosbags (empty lists when absent)."""
    from walkout_core.bagio import typestore
    from walkout_nodes.bag_player import BagSource
    out: dict[str, list[Any]] = {t: [] for t in TRUTH_TOPICS}
    probe = BagSource(bag, skip_truth=False)
    present = [t for t in TRUTH_TOPICS if t in probe.types]
    probe.close()
    if not present:
        return out
    src = BagSource(bag, topics=present, skip_truth=False)
    store = typestore()
    try:
        for topic, _, data in src.messages():
            out[topic].append(store.deserialize_cdr(data, src.types[topic]))
    finally:
        src.close()
    return out


# --------------------------------------------------------------------------- replay
@dataclass
class ReplayResult:
    bag: str
    layout: str
    outputs: dict[str, list[Any]]
    failed_nodes: dict[str, str]
    started_nodes: list[str]
    bag_duration_s: float
    wall_s: float
    published: int
    waited_for_graph_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    player_error: str | None = None
    started_executables: list[str] = field(default_factory=list)
    process_cpu_s: float | None = None      # CPU time of this process during the replay (lock step)

    @property
    def realtime_factor(self) -> float | None:
        """Bag seconds per wall second of the replay."""
        return self.bag_duration_s / self.wall_s if self.wall_s > 0 and self.bag_duration_s > 0 else None

    @property
    def realtime_factor_cpu(self) -> float | None:
        """Bag seconds per CPU second of the replay (what an otherwise idle core would reach)."""
        c = self.process_cpu_s
        return self.bag_duration_s / c if c and self.bag_duration_s > 0 else None


def _fresh_state(specs: list, tmp: Path) -> list:
    """Point every on-disk state parameter (SQLite files) of the nodes into ``tmp``."""
    from walkout_bringup.graph import NodeSpec
    out = []
    for s in specs:
        params = dict(s.parameters)
        for k, v in s.parameters.items():
            if isinstance(v, str) and any(h in k.lower() for h in STATE_PARAM_HINTS):
                params[k] = str(tmp / f'{s.name}_{Path(v).name or k}')
        out.append(NodeSpec(s.package, s.executable, s.name, params, s.remappings, s.host))
    return out


def _make_collector(node_cls: Any, lock: threading.Lock, store: dict[str, list[Any]], activity: list[float]) -> Any:
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    from walkout_nodes.bag_player import message_class, qos_for_topic
    node = node_cls('walkout_eval_collector')
    latched_deep = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE,
                              durability=DurabilityPolicy.TRANSIENT_LOCAL, history=HistoryPolicy.KEEP_LAST)

    def cb(topic: str) -> Callable[[Any], None]:
        def _on(msg: Any) -> None:
            with lock:
                store[topic].append(msg)
                activity[0] = time.monotonic()
        return _on
    for topic, msgtype in OUTPUT_TOPICS.items():
        qos = latched_deep if topic == '/baskets/state' else qos_for_topic(topic, True)
        node.create_subscription(message_class(msgtype), topic, cb(topic), qos)
    return node


def _wait_matched(pubs_subs: Callable[[], tuple], settle_s: float = 1.0, timeout_s: float = 20.0) -> None:
    """Wait until discovery has settled: the match counts stopped changing for ``settle_s``."""
    last, since, t0 = None, time.monotonic(), time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        now = pubs_subs()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= (settle_s if any(now) else 3 * settle_s):
            return
        time.sleep(0.05)


def _report_callback_error(exc: BaseException) -> None:
    _report_callback_error.count = getattr(_report_callback_error, 'count', 0) + 1
    if _report_callback_error.count == 1:
        _LOG.warning('a node callback raised %s: %s (the replay goes on; further ones are counted)',
                     type(exc).__name__, exc)


def drain(executor: Any, idle_s: float = 0.002, max_s: float | None = None) -> int:
    """Run every ready callback of ``executor`` until nothing has been ready for ``idle_s``.

    Callback exceptions are counted, not raised (one node's bug must not stop the replay).
    Returns the number of callbacks run.
    """
    from rclpy.executors import ConditionReachedException, ShutdownException, TimeoutException
    n = 0
    t0 = time.monotonic()
    while max_s is None or time.monotonic() - t0 < max_s:
        try:
            handler, _, _ = executor.wait_for_ready_callbacks(timeout_sec=idle_s)
        except (TimeoutException, ConditionReachedException, ShutdownException):
            return n
        handler()
        n += 1
        if handler.exception() is not None:
            _report_callback_error(handler.exception())
    return n


def _call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - one node's bug must not stop the replay
        _report_callback_error(exc)
        return None


def _take_node(node: Any) -> int:
    """Run the work queued for one node: messages, due timers, service requests, client responses."""
    from rclpy.subscription import Subscription
    n = 0
    for sub in list(node.subscriptions):
        while True:
            try:
                with sub.handle:
                    got = sub.handle.take_message(sub.msg_type, sub.raw)
            except Exception:  # noqa: BLE001 - InvalidHandle: destroyed meanwhile
                break
            if got is None:
                break
            n += 1
            if sub._callback_type is Subscription.CallbackType.MessageOnly:  # noqa: SLF001
                _call(sub.callback, got[0])
            else:
                _call(sub.callback, *got)
    for tmr in list(node.timers):
        try:
            ready = tmr.is_ready()
        except Exception:  # noqa: BLE001 - destroyed meanwhile
            continue
        if ready:
            with tmr.handle:
                tmr.handle.call_timer()
            n += 1
            _call(tmr.callback)
    for srv in list(node.services):
        while True:
            with srv.handle:
                got = srv.handle.service_take_request(srv.srv_type.Request)
            if got is None or got[1] is None:
                break
            n += 1
            response = _call(srv.callback, got[0], srv.srv_type.Response())
            if response is not None:
                srv.send_response(response, got[1])
    for client in list(node.clients):
        while True:
            with client.handle:
                got = client.handle.take_response(client.srv_type.Response)
            if got is None or got[0] is None:
                break
            n += 1
            try:
                future = client.get_pending_request(got[0].request_id.sequence_number)
            except KeyError:
                continue
            _call(future.set_result, got[1])
    return n


def take_pass(nodes: list[Any], cpu: dict[str, float] | None = None, pool: Any = None,
              parallel: frozenset = frozenset()) -> int:
    """One pass over the nodes in data-flow order running everything they have queued (no wait set:
    far cheaper than an executor round per message in rclpy). Returns the amount of work done;
    adds each node's callback CPU time [s] to ``cpu``.

    Consecutive nodes whose names are in ``parallel`` (independent nodes of one stage, e.g. the
    detection nodes: OpenCV releases the GIL) run at once on ``pool``; what they publish goes to
    per-camera queues, so the next stage sees the same order whatever the timing.
    """
    def one(node: Any) -> int:
        c0 = time.thread_time() if cpu is not None else 0.0
        k = _take_node(node)
        if cpu is not None and k:
            name = node.get_name()
            with _CPU_LOCK:
                cpu[name] = cpu.get(name, 0.0) + time.thread_time() - c0
        return k
    n = 0
    batch: list[Any] = []
    for node in list(nodes) + [None]:
        if node is not None and pool is not None and node.get_name() in parallel:
            batch.append(node)
            continue
        if batch:
            n += sum(pool.map(one, batch)) if len(batch) > 1 else one(batch[0])
            batch = []
        if node is not None:
            n += one(node)
    return n


_CPU_LOCK = threading.Lock()


def settle(nodes: list[Any], executor: Any | None = None, idle_s: float = 0.0,
           cpu: dict[str, float] | None = None, pool: Any = None, parallel: frozenset = frozenset()) -> None:
    """Lock step: run the graph until it is idle (:func:`take_pass`; with ``executor``, also an
    executor round with ``idle_s`` for anything else: guard conditions, QoS events; an rclpy wait
    set costs milliseconds, so the replay asks for it once per bag second only)."""
    while True:
        moved = take_pass(nodes, cpu, pool, parallel)
        if not moved and executor is not None:
            moved = drain(executor, idle_s=idle_s)
        if not moved:
            return


def replay(bag: str | Path, layout: str | None = None, *, rate: float = 0.0, max_lag_s: float = 0.5,
           stall_timeout_s: float = 2.0, quiet_s: float = 1.5, max_tail_s: float = 60.0, processes: bool = False,
           cameras_per_detection_node: int = 1, executor: str = 'single', chunk_s: float = 0.1,
           workers: int | None = None,
           log: Callable[[str], None] | None = None, extra_nodes: tuple = (),
           specs: list | None = None) -> ReplayResult:
    """Replay ``bag`` through the whole graph and collect its outputs (rclpy).

    In one process at ``rate=0`` the replay runs in *lock step*: the bag goes out in chunks of
    ``chunk_s`` of bag time; after each chunk the player waits until every reliable subscriber
    has it and then runs every ready callback of the graph until the graph is idle. Nothing is
    dropped and the result does not depend on the machine's speed. Otherwise (``rate > 0`` or
    ``processes``) the player runs freely in its thread, held back by the tracker's output
    (``max_lag_s``), and the end is when the outputs stop changing for ``quiet_s``.
    ``specs`` replaces the layout's node list (tests use stand-in nodes); ``extra_nodes`` adds to it.
    """
    import rclpy
    from rclpy.signals import SignalHandlerOptions
    from walkout_bringup.graph import node_list, replay_overrides
    from walkout_bringup.runner import InProcessGraph, ProcessGraph, ros_parameters
    from walkout_core.bagio import bag_topics
    from walkout_nodes.bag_player import BagPlayer, BagSource
    log = log or _LOG.warning
    bag = str(Path(bag).resolve())
    BagSource(bag).close()                      # clear error before anything starts
    layout = layout or guess_layout(bag)
    tmp = Path(tempfile.mkdtemp(prefix='walkout_eval_'))
    if specs is None:
        specs = node_list(layout, source='bag', reliable_sensors=True,
                          cameras_per_detection_node=cameras_per_detection_node,
                          overrides=replay_overrides(bag_topics(bag)))
    specs = _fresh_state(list(specs) + list(extra_nodes), tmp)
    lockstep = not processes and rate <= 0
    own_init = not rclpy.ok()
    if own_init:
        rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    outputs: dict[str, list[Any]] = {t: [] for t in OUTPUT_TOPICS}
    lock = threading.Lock()
    activity = [time.monotonic()]
    procs: ProcessGraph | None = None
    graph: InProcessGraph | None = None
    player = None
    keep_logs = False
    try:
        if processes:
            procs = ProcessGraph(specs, log_dir=str(tmp / 'logs')).start()
            graph = InProcessGraph([], executor=executor)
            failed, started = {}, [s.name for s in specs]
        else:
            graph = InProcessGraph(specs, executor='single' if lockstep else executor,
                                   node_kwargs={'start_parameter_services': False} if lockstep else None)
            failed, started = dict(graph.report.failed), list(graph.report.started)
        for name, why in failed.items():
            log(f'eval: node {name} not started: {why}')
        collector = _make_collector(_plain_node, lock, outputs, activity)
        graph.add_node('walkout_eval_collector', collector)
        started_exec = {s.executable for s in specs if s.name in started}
        progress = ['/tracking/avatars'] if 'tracker_node' in started_exec and not lockstep else []
        player = BagPlayer(parameter_overrides=ros_parameters({
            'bag': bag, 'rate': float(rate), 'reliable_sensors': True, 'progress_topics': progress,
            'max_lag_s': float(max_lag_s), 'stall_timeout_s': float(stall_timeout_s), 'use_sim_time': False,
            # /clock once per lock step is enough (every node takes every /clock message)
            'clock_period_s': float(chunk_s) if lockstep else 0.01}))
        graph.add_node('bag_player', player)
        if not lockstep:
            graph.start()
        pubs = list(player._pubs.values())  # noqa: SLF001 - the eval owns this player

        def counts() -> tuple:
            if lockstep:
                drain(graph.executor, idle_s=0.01, max_s=0.5)
            c = tuple(p.get_subscription_count() for p in pubs)
            return c + tuple(collector.count_publishers(t) for t in OUTPUT_TOPICS)
        if procs is not None:
            # every node process has come up (or died) before discovery can settle
            expected = {sp.name for sp in specs}
            deadline = time.monotonic() + 60.0
            while time.monotonic() < deadline:
                up = set(collector.get_node_names())
                if all(n in up or not alive for n, alive in procs.alive().items() if n in expected):
                    break
                time.sleep(0.1)
        _wait_matched(counts, settle_s=2.0 if processes else 1.0, timeout_s=60.0 if processes else 20.0)
        if procs is not None:
            dead = [n for n, a in procs.alive().items() if not a]
            keep_logs = bool(dead)
            for n in dead:
                failed[n] = f'process exited with {procs.procs[n].returncode} (log {tmp / "logs" / (n + ".log")})'
                log(f'eval: node {n} not running: {failed[n]}')
            started = [n for n in started if n not in failed]
        started_exec = {s.executable for s in specs if s.name in started}
        cpu0 = procs.cpu_seconds() if procs is not None else {}
        t_start = time.monotonic()
        if lockstep:
            chunk_ns = int(chunk_s * 1e9)
            chunk_start: int | None = None
            player.wall_started = t_start
            nodes = list(graph.nodes.values())
            node_cpu: dict[str, float] = {}
            from concurrent.futures import ThreadPoolExecutor
            n_workers = workers if workers is not None else (os.cpu_count() or 1)
            pool = ThreadPoolExecutor(max_workers=n_workers) if n_workers > 1 else None
            parallel = frozenset(s.name for s in specs if s.executable in PARALLEL_EXECUTABLES and s.name in started)
            kw_settle = {'cpu': node_cpu, 'pool': pool, 'parallel': parallel}
            steps = 0
            per_executor_round = max(1, int(round(1.0 / chunk_s)))
            cpu_start = time.process_time()
            for topic, t_ns, data in player.source.messages():
                if chunk_start is None:
                    chunk_start = t_ns
                elif t_ns - chunk_start >= chunk_ns:
                    player.wait_for_acks()
                    steps += 1
                    settle(nodes, graph.executor if steps % per_executor_round == 0 else None, **kw_settle)
                    chunk_start = t_ns
                c0 = time.perf_counter()
                player.publish(topic, t_ns, data)
                node_cpu['bag_player'] = node_cpu.get('bag_player', 0.0) + time.perf_counter() - c0
            player.wait_for_acks()
            settle(nodes, graph.executor, **kw_settle)
            player.wall_finished = time.monotonic()
            replay_cpu_s = time.process_time() - cpu_start
            t_end = time.monotonic()
            # the graph's last words (wall-clock idle flushes of some nodes): until quiet for quiet_s
            t_tail = time.monotonic()
            while time.monotonic() - t_tail < max_tail_s:
                settle(nodes, graph.executor, idle_s=0.05, **kw_settle)
                with lock:
                    last = activity[0]
                if time.monotonic() - max(last, t_tail) >= quiet_s:
                    break
                time.sleep(0.02)
            if pool is not None:
                pool.shutdown()

        else:
            player.start()
            while not player.done.wait(0.2):
                pass
            # the graph finishes what it got: wait until its outputs stop changing
            t_played = time.monotonic()
            while time.monotonic() - t_played < max_tail_s:
                with lock:
                    last = activity[0]
                if time.monotonic() - max(last, t_played) >= quiet_s:
                    break
                time.sleep(0.05)
            with lock:
                t_end = max(activity[0], player.wall_finished or t_played)
        cpu = dict(node_cpu) if lockstep else {}
        if not lockstep:
            replay_cpu_s = None
        if procs is not None:
            cpu = {k: v - cpu0.get(k, 0.0) for k, v in procs.cpu_seconds().items()}
        first = player._first_ns  # noqa: SLF001 - the eval owns this player
        duration = (player.bag_time_ns - first) * 1e-9 if player.bag_time_ns and first else player.source.duration_s
        with lock:
            snapshot = {k: list(v) for k, v in outputs.items()}
        return ReplayResult(bag=bag, layout=str(layout), outputs=snapshot, failed_nodes=failed, started_nodes=started,
                            bag_duration_s=duration, wall_s=max(1e-9, t_end - t_start), published=player.published,
                            waited_for_graph_s=player.waited_for_graph_s, cpu_s=cpu,
                            player_error=None if player.error is None else str(player.error),
                            started_executables=sorted(started_exec), process_cpu_s=replay_cpu_s)
    finally:
        if player is not None:
            player.stop()
        if graph is not None:
            graph.stop()
        if procs is not None:
            procs.stop()
        if own_init:
            rclpy.try_shutdown()
        if keep_logs:
            log(f'eval: node process logs kept in {tmp / "logs"}')
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _plain_node(name: str) -> Any:
    from rclpy.node import Node
    return Node(name)


# --------------------------------------------------------------------------- scoring
def _null(stage: str) -> dict[str, None]:
    return {k: None for k in STAGE_KEYS[stage]}


def score(result: ReplayResult, truth: dict[str, list[Any]], layout_obj: Any = None) -> tuple[dict[str, Any], dict]:
    """The JSON figures and, per stage, why it gave nulls (empty when it ran)."""
    import importlib
    from walkout_core.layout import load_layout
    lay = layout_obj or load_layout(result.layout)
    out = result.outputs
    figures: dict[str, Any] = {}
    notes: dict[str, str] = {}
    args = {
        'shelf': lambda: (truth['/truth/events'], out['/shelves/events'], out['/alerts'], lay),
        'tracking': lambda: (truth['/truth/persons'], out['/tracking/avatars']),
        'baskets': lambda: (truth['/truth/baskets'], truth['/truth/events'], truth['/truth/persons'],
                            out['/tracking/avatars'], out['/baskets/state'], out['/baskets/events'],
                            out['/checkout/receipts'], out['/shelves/events']),
    }
    started_exec = set(result.started_executables)
    for stage, (mod_name, fn_name) in STAGE_FUNCS.items():
        figures.update(_null(stage))
        missing = [e for e in STAGE_NODES[stage] if e not in started_exec]
        if missing:
            notes[stage] = f'node(s) not running: {missing}'
            continue
        if not any(truth.values()):
            notes[stage] = 'the bag has no /truth/* topics'
            continue
        try:
            fn = getattr(importlib.import_module(mod_name), fn_name)
        except (ImportError, AttributeError) as exc:
            notes[stage] = f'{mod_name}.{fn_name} not available: {exc}'
            continue
        try:
            res = fn(*args[stage]())
        except Exception as exc:  # noqa: BLE001 - one stage's scoring bug must not hide the others
            notes[stage] = f'{fn_name} failed: {type(exc).__name__}: {exc}'
            continue
        for k in STAGE_KEYS[stage]:
            v = res.get(k) if isinstance(res, dict) else None
            figures[k] = None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v)
        for k, v in (res.items() if isinstance(res, dict) else ()):
            if k not in figures and isinstance(v, (int, float)) and not isinstance(v, bool):
                figures[k] = float(v) if math.isfinite(float(v)) else None
    rtf = result.realtime_factor
    figures['realtime_factor'] = round(rtf, 3) if rtf is not None else None
    return figures, notes


def _fmt(v: Any) -> str:
    if v is None:
        return 'null'
    return f'{v:.4g}' if isinstance(v, float) else str(v)


def report_text(result: ReplayResult, figures: dict[str, Any], notes: dict[str, str]) -> str:
    lines = [f'bag {result.bag} (layout {result.layout}): {result.bag_duration_s:.1f} s of data, '
             f'{result.published} messages replayed in {result.wall_s:.1f} s '
             f'(realtime factor {_fmt(figures.get("realtime_factor"))}; waited for the graph '
             f'{result.waited_for_graph_s:.1f} s)']
    if result.player_error:
        lines.append(f'  bag player error: {result.player_error}')
    for name, why in result.failed_nodes.items():
        lines.append(f'  node {name} did not run: {why}')
    counts = ', '.join(f'{t} {len(v)}' for t, v in result.outputs.items())
    lines.append(f'  graph outputs: {counts}')
    titles = {'shelf': 'shelf events', 'tracking': 'tracking', 'baskets': 'baskets and checkout'}
    for stage, keys in STAGE_KEYS.items():
        lines.append(f'{titles[stage]}:' + (f'  (null: {notes[stage]})' if stage in notes else ''))
        for k in keys:
            lines.append(f'  {k:<26} {_fmt(figures.get(k))}')
    return '\n'.join(lines)


def evaluate_bag(bag: str | Path, layout: str | None = None, **kw: Any) -> tuple[dict[str, Any], str, ReplayResult]:
    result = replay(bag, layout, **kw)
    truth = read_truth(bag)
    figures, notes = score(result, truth)
    return figures, report_text(result, figures, notes), result


# --------------------------------------------------------------------------- suite
def _repo_root() -> Path:
    from walkout_core.layout import params_dir
    return params_dir().parent


def scenarios(include_stress: bool = False) -> list[tuple[str, Path]]:
    import yaml
    out = []
    for f in sorted((_repo_root() / 'params' / 'scenarios').glob('*.yaml')):
        try:
            data = yaml.safe_load(f.read_text()) or {}
        except yaml.YAMLError:
            data = {}
        if data.get('stress') and not include_stress:
            continue
        out.append((str(data.get('name', f.stem)), f))
    return out


def _stale(bag: Path, name: str, seed: int | None = None) -> str | None:
    """Why a bag is not what the simulator makes now for scenario ``name`` (None: it is)."""
    from walkout_core.sim.provenance import stale_reason
    from walkout_core.sim.scenario import resolve_scenario_path
    return stale_reason(bag, resolve_scenario_path(name), seed)


def bag_for(name: str, bags_dir: Path, log: Callable[[str], None]) -> Path:
    """An existing bag of the scenario (``bags/<name>``, ``bags/generated/<name>``) or a new one.

    ``generated/`` is a cache: a bag there that the simulator would no longer write the same (see
    :mod:`walkout_core.sim.provenance`) is made again. A bag in ``bags_dir`` itself is scored as it is,
    with a warning when it is out of date."""
    for cand in (bags_dir / name, bags_dir / 'generated' / name):
        if not (cand / 'metadata.yaml').is_file():
            continue
        reason = _stale(cand, name)
        if reason is None:
            return cand
        if cand.parent.name != 'generated':
            log(f'eval: {cand}: {reason}; scored as it is (make it again: walkout sim --scenario {name} '
                f'--out {cand})')
            return cand
        log(f'eval: {cand}: {reason}: making it again')
        break
    out = bags_dir / 'generated' / name
    out.parent.mkdir(parents=True, exist_ok=True)
    log(f'eval: generating the bag of scenario {name} into {out}')
    subprocess.run([sys.executable, '-m', 'walkout_bringup.cli', 'sim', '--scenario', name, '--out', str(out)],
                   check=True)
    return out


def _mean(vals: list[Any]) -> float | None:
    v = [x for x in vals if isinstance(x, (int, float)) and math.isfinite(x)]
    return sum(v) / len(v) if v else None


def _eval_in_subprocess(bag: Path, kw: dict[str, Any], domain_id: int) -> tuple[dict[str, Any], str]:
    """``walkout eval <bag>`` in a child process with a ROS domain of its own (replays in parallel
    must not hear each other). Returns (figures, report text)."""
    args = [sys.executable, '-m', 'walkout_bringup.evaluate', str(bag), '--rate', str(kw.get('rate', 0.0)),
            '--max-lag', str(kw.get('max_lag_s', 0.5)), '--chunk', str(kw.get('chunk_s', 0.1))]
    if kw.get('workers'):
        args += ['--workers', str(kw['workers'])]
    if kw.get('processes'):
        args.append('--processes')
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f'walkout eval {bag} exited with {proc.returncode}: {proc.stderr.strip()[-500:]}')
    return json.loads(lines[-1]), '\n'.join(lines[:-1])


def run_suite(include_stress: bool, bags_dir: Path, kw: dict[str, Any], jobs: int = 1) -> dict[str, Any]:
    """Every scenario's figures (``jobs`` > 1: that many replays at once, each in its own process
    and ROS domain) and their pooled overall figures; bags are generated first where missing."""
    log = _LOG.warning
    bags: dict[str, Path | None] = {}
    for name, _ in scenarios(include_stress):
        try:
            bags[name] = bag_for(name, bags_dir, log)
        except Exception as exc:  # noqa: BLE001 - a scenario the simulator cannot make is reported
            log(f'eval: scenario {name}: no bag: {exc}')
            bags[name] = None
    per = _evaluate_many(bags, kw, jobs, 'scenario')
    overall = pool_suite(per)
    overall['scenarios'] = per
    return overall


def run_seeds(name: str, seeds: list[int], bags_dir: Path, kw: dict[str, Any], jobs: int = 1) -> dict[str, Any]:
    """One scenario simulated with each of ``seeds`` (bags cached as ``bags/generated/<name>_seed<S>``, made
    again when out of date), each replayed and scored, and their pooled figures: one crowded run of 20
    shoppers is a noisy figure."""
    log = _LOG.warning
    bags: dict[str, Path | None] = {}
    for seed in seeds:
        out = bags_dir / 'generated' / f'{name}_seed{seed}'
        reason = _stale(out, name, seed) if (out / 'metadata.yaml').is_file() else 'no bag yet'
        if reason is not None:
            log(f'eval: generating scenario {name} with seed {seed} into {out} ({reason})')
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                subprocess.run([sys.executable, '-m', 'walkout_bringup.cli', 'sim', '--scenario', name, '--seed',
                                str(seed), '--out', str(out)], check=True)
            except (subprocess.CalledProcessError, OSError) as exc:
                log(f'eval: scenario {name} seed {seed}: no bag: {exc}')
                bags[str(seed)] = None
                continue
        bags[str(seed)] = out
    per = _evaluate_many(bags, kw, jobs, 'seed')
    overall = pool_suite(per)
    overall.update(seed_spread(per))
    overall['scenario'] = name
    overall['seeds'] = per
    return overall


def seed_spread(per: dict[str, dict[str, Any]], key: str = 'basket_exact_accuracy') -> dict[str, Any]:
    """How much ``key`` varies from seed to seed: ``<key>_seed_sd`` and a 95 % interval of its mean over
    seeds, ``<key>_seed_ci95`` = [low, high] (Student t over the seeds; None below two seeds).

    The seeds, not the shoppers, are the independent samples: one missed handover costs two shoppers
    of one run, and a jam at the door costs several, so an interval over shoppers would be too narrow."""
    from scipy import stats
    vals = [float(p[key]) for p in per.values() if isinstance(p.get(key), (int, float)) and math.isfinite(p[key])]
    if len(vals) < 2:
        return {f'{key}_seed_sd': None, f'{key}_seed_ci95': None}
    n = len(vals)
    mean = sum(vals) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return {f'{key}_seed_sd': sd, f'{key}_seed_ci95': [max(0.0, mean - half), min(1.0, mean + half)]}


def seeds_summary(overall: dict[str, Any]) -> str:
    """Two lines for people: the pooled basket figures of a --seeds run and the spread over seeds."""
    per = overall.get('seeds') or {}
    exact = sum(int(p.get('shoppers_exact') or 0) for p in per.values())
    ci = overall.get('basket_exact_accuracy_seed_ci95')
    lines = [f"== {overall.get('scenario')} over {len(per)} seeds: {exact}/{overall.get('shoppers')} baskets exact "
             f"({_fmt(overall.get('basket_exact_accuracy'))}), item P/R {_fmt(overall.get('item_precision'))}/"
             f"{_fmt(overall.get('item_recall'))}, review {_fmt(overall.get('review_rate'))}"]
    if ci is not None:
        lines.append(f"   exact per seed: sd {_fmt(overall.get('basket_exact_accuracy_seed_sd'))}, "
                     f"95 % interval of the mean {_fmt(ci[0])}..{_fmt(ci[1])}")
    paying = sum(int(p.get('paying_shoppers') or 0) for p in per.values())
    if paying:
        p95 = sorted(float(p['receipt_latency_p95_s']) for p in per.values()
                     if isinstance(p.get('receipt_latency_p95_s'), (int, float)))
        lines.append(f"   receipts: {sum(int(p.get('receipts_exact') or 0) for p in per.values())}/{paying} paying "
                     f"shoppers charged exactly what they took, {overall.get('paying_shoppers_without_receipt')} "
                     f"charged nothing, {overall.get('receipts_before_checkout')} receipts before a checkout; "
                     f"latency p95 median over seeds {_fmt(p95[len(p95) // 2] if p95 else None)} s, "
                     f"worst {_fmt(p95[-1] if p95 else None)} s")
    return '\n'.join(lines)


def parse_seeds(text: str) -> list[int]:
    """``"101,105"`` or ``"101-114"`` (inclusive) or a mix -> the seeds in that order."""
    seeds: list[int] = []
    for part in (x.strip() for x in text.split(',')):
        if not part:
            continue
        lo, sep, hi = part.partition('-')
        if sep and lo:
            a, b = int(lo), int(hi)
            if b < a:
                raise ValueError(f'range {part!r} runs backwards')
            seeds += range(a, b + 1)
        else:
            seeds.append(int(part))
    return seeds


def _evaluate_many(bags: dict[str, Path | None], kw: dict[str, Any], jobs: int, label: str
                   ) -> dict[str, dict[str, Any]]:
    """Replay and score each bag (``jobs`` at once in processes of their own, each in its own ROS domain);
    prints each report and JSON line (``{label: key, ...}``) as it comes."""
    from concurrent.futures import ThreadPoolExecutor
    base_domain = int(os.environ.get('ROS_DOMAIN_ID', '0') or 0)

    def one(i_key: tuple[int, str]) -> tuple[str, dict[str, Any] | None, str]:
        i, key = i_key
        bag = bags[key]
        if bag is None:
            return key, None, 'no bag'
        try:
            if jobs > 1:
                figures, text = _eval_in_subprocess(bag, kw, 100 + (base_domain + 1 + i) % 130)
            else:
                figures, text, _ = evaluate_bag(bag, **kw)
        except Exception as exc:  # noqa: BLE001 - one bag's failure is reported, the others go on
            return key, None, f'{type(exc).__name__}: {exc}'
        return key, figures, text
    per: dict[str, dict[str, Any]] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for key, figures, text in pool.map(one, enumerate(bags)):
            if figures is None:
                print(f'== {label} {key}: failed: {text}', flush=True)
                per[key] = {k: None for k in KEYS}
                continue
            print(f'== {label} {key}\n{text}')
            print(json.dumps({label: key, **figures}), flush=True)
            per[key] = figures
    return per


def pool_suite(per: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The suite's overall figures from each scenario's: means of the rates, except the basket figures,
    which count shoppers, items and events over the whole suite (the means of the scenarios' rates are
    kept as ``*_mean_of_scenarios``)."""
    overall: dict[str, Any] = {k: _mean([p.get(k) for p in per.values()]) for k in KEYS}
    pooled = {'basket_exact_accuracy': ('shoppers_exact', 'shoppers'),
              'item_precision': ('items_matched', 'items_predicted'),
              'item_recall': ('items_matched', 'items_true'),
              'review_rate': ('events_reviewed', 'events_decided'),
              'review_top1_accuracy': ('reviews_top1_right', 'reviews_scored'),
              'receipt_exact_accuracy': ('receipts_exact', 'paying_shoppers')}
    for key, (num, den) in pooled.items():
        total = sum(int(p.get(den) or 0) for p in per.values())
        overall[f'{key}_mean_of_scenarios'] = overall.get(key)
        overall[key] = sum(int(p.get(num) or 0) for p in per.values()) / total if total else None
    for key in ('shoppers',) + COUNT_KEYS:
        overall[key] = sum(int(p.get(key) or 0) for p in per.values())
    return overall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog='walkout eval', description=__doc__.split('\n\n')[0])
    ap.add_argument('bag', nargs='?', help='rosbag2 directory')
    ap.add_argument('--layout', help='layout name or path (default: from the bag)')
    ap.add_argument('--suite', action='store_true', help='every scenario of params/scenarios/')
    ap.add_argument('--include-stress', action='store_true', help='with --suite: also the stress scenarios')
    ap.add_argument('--scenario', help='with --seeds: the scenario to simulate')
    ap.add_argument('--seeds', help='seeds, comma-separated or ranges (101-114): simulate --scenario with each, '
                                    'score each and pool them')
    ap.add_argument('--bags-dir', default=None, help='where suite bags live (default <repo>/bags)')
    ap.add_argument('--jobs', '-j', type=int, default=1, help='with --suite or --seeds: bags replayed at once')
    ap.add_argument('--rate', type=float, default=0.0, help='replay speed (0 = as fast as the graph keeps up)')
    ap.add_argument('--max-lag', type=float, default=0.5, help='bag seconds the player may run ahead of the tracker')
    ap.add_argument('--processes', action='store_true', help='one process per node')
    ap.add_argument('--executor', choices=('multi', 'single'), default='single',
                    help='executor when not in lock step (--rate > 0); multi: rclpy\'s MultiThreadedExecutor '
                         '(Jazzy: callbacks late by seconds under load, ros2/rclpy#1452)')
    ap.add_argument('--chunk', type=float, default=0.1, help='lock step: bag seconds per step')
    ap.add_argument('--workers', type=int, default=None,
                    help='lock step: threads for the detection nodes (default: one per core)')
    ns = ap.parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s', stream=sys.stderr)
    kw = {'rate': ns.rate, 'max_lag_s': ns.max_lag, 'processes': ns.processes, 'executor': ns.executor,
          'chunk_s': ns.chunk, 'workers': ns.workers}
    if ns.suite:
        overall = run_suite(ns.include_stress, Path(ns.bags_dir) if ns.bags_dir else _repo_root() / 'bags', kw,
                            jobs=ns.jobs)
        print(json.dumps(overall))
        return 0
    if ns.seeds or ns.scenario:
        if not (ns.seeds and ns.scenario):
            ap.error('--seeds and --scenario go together')
        try:
            seeds = parse_seeds(ns.seeds)
        except ValueError as exc:
            ap.error(f'--seeds: comma-separated integers or ranges (101-114), not {ns.seeds!r}: {exc}')
        overall = run_seeds(ns.scenario, seeds, Path(ns.bags_dir) if ns.bags_dir else _repo_root() / 'bags', kw,
                            jobs=ns.jobs)
        print(seeds_summary(overall))
        print(json.dumps(overall))
        return 0
    if not ns.bag:
        ap.error('give a bag, --suite, or --scenario with --seeds')
    from walkout_nodes.bag_player import BagError
    try:
        figures, text, _ = evaluate_bag(ns.bag, ns.layout, **kw)
    except (BagError, ValueError, FileNotFoundError) as exc:
        print(f'walkout eval: {exc}', file=sys.stderr)
        return 2
    print(text)
    print(json.dumps(figures))
    return 0


if __name__ == '__main__':
    sys.exit(main())
