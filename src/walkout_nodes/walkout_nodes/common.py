"""Shared pieces of the thin rclpy wrappers: QoS per stream, typed config, time, diagnostics."""
from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from typing import Any, Callable, TypeVar

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy,
                       qos_profile_sensor_data)

from builtin_interfaces.msg import Time
from walkout_core.config import from_mapping, validate

T = TypeVar('T')

__all__ = ['sensor_qos', 'EVENT_QOS', 'LATCHED_QOS', 'declare_config', 'param_update_callback', 'stamp_to_sec',
           'sec_to_stamp', 'split_ros_args', 'Diagnostics', 'run']

#: Events, baskets, receipts: every message matters.
EVENT_QOS = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.VOLATILE, history=HistoryPolicy.KEEP_LAST)
#: Latched state (baskets, layout markers): late joiners get the last value.
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL, history=HistoryPolicy.KEEP_LAST)
#: Replay for scoring: reliable and deep, so scores never depend on load.
REPLAY_QOS = QoSProfile(depth=5000, reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE, history=HistoryPolicy.KEEP_LAST)


def sensor_qos(reliable: bool) -> QoSProfile:
    """Live sensor data is best-effort; a scoring replay asks for reliable delivery."""
    return REPLAY_QOS if reliable else qos_profile_sensor_data


def stamp_to_sec(stamp: Any) -> float:
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def sec_to_stamp(t: float) -> Time:
    sec = int(t // 1)
    nsec = int(round((t - sec) * 1e9))
    if nsec >= 1_000_000_000:
        sec, nsec = sec + 1, nsec - 1_000_000_000
    return Time(sec=sec, nanosec=nsec)


def declare_config(node: Node, cls: type[T], **overrides: Any) -> T:
    """Declare one typed ROS parameter per field of ``cls`` and return the validated config.

    Raises ``ValueError`` naming the parameter and the value when it is out of range.
    """
    values = {}
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        default = overrides.get(f.name, default)
        m = f.metadata
        desc = ParameterDescriptor(description=f'{m.get("description", "")} [{m.get("unit", "")}]')
        if isinstance(default, float) and m.get('min') is not None and m.get('max') is not None:
            desc.floating_point_range = [FloatingPointRange(from_value=float(m['min']), to_value=float(m['max']))]
        elif isinstance(default, int) and not isinstance(default, bool) and m.get('min') is not None \
                and m.get('max') is not None:
            desc.integer_range = [IntegerRange(from_value=int(m['min']), to_value=int(m['max']), step=1)]
        value = node.declare_parameter(f.name, default, desc).value
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(default, list) and value is None:
            value = []
        values[f.name] = list(value) if isinstance(default, list) else value
    return validate(cls(**values))


def param_update_callback(node: Node, cls: type, get_cfg: Callable[[], Any], apply: Callable[[Any], None],
                          fixed: tuple[str, ...] = ('layout',)) -> Callable[[list[Any]], SetParametersResult]:
    """A parameters callback: reject values that fail ``validate`` or change a ``fixed`` field, else apply."""
    names = {f.name for f in dataclasses.fields(cls)}

    def callback(params: list[Any]) -> SetParametersResult:
        mine = {p.name: p.value for p in params if p.name in names}
        if not mine:
            return SetParametersResult(successful=True)
        cur = dataclasses.asdict(get_cfg())
        for k in fixed:
            if k in mine and mine[k] != cur[k]:
                return SetParametersResult(successful=False, reason=f'parameter {k!r} needs a restart')
        try:
            new = from_mapping(cls, {**cur, **mine})
        except (ValueError, TypeError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        apply(new)
        return SetParametersResult(successful=True)
    return callback


def _level(level: bytes | int) -> bytes:
    """DiagnosticStatus levels are ``bytes`` in rclpy (b'\\x01' is WARN); accept ints too."""
    return level if isinstance(level, bytes) else bytes([int(level)])


class Diagnostics:
    """Counters and a status per stream, published on ``/diagnostics`` at a fixed period.

    ``count(key)`` increments a counter; ``problem(key, message)`` logs once per burst
    (again only after ``quiet_s`` of silence) and raises the level until it clears.
    """

    def __init__(self, node: Node, name: str, period_s: float = 1.0, quiet_s: float = 5.0):
        self._node = node
        self._name = name
        self._quiet_ns = int(quiet_s * 1e9)
        self.counters: Counter[str] = Counter()
        self._last_log: dict[str, int] = {}
        self._messages: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()
        self._pub = node.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._timer = node.create_timer(period_s, self.publish)

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counters[key] += n

    def problem(self, key: str, message: str, level: bytes | int = DiagnosticStatus.WARN) -> None:
        """Count a problem, log it once per burst, report it on /diagnostics."""
        level = _level(level)
        now = self._node.get_clock().now().nanoseconds
        with self._lock:
            self.counters[key] += 1
            last = self._last_log.get(key)
            self._last_log[key] = now
            self._messages[key] = (level, message)
        if last is None or now - last > self._quiet_ns:
            log = self._node.get_logger()
            (log.error if level >= DiagnosticStatus.ERROR else log.warning)(
                f'{message} (count {self.counters[key]}; further ones logged after a quiet spell)')

    def clear(self, key: str) -> None:
        with self._lock:
            self._messages.pop(key, None)

    def publish(self) -> None:
        with self._lock:
            level = max((lv for lv, _ in self._messages.values()), default=DiagnosticStatus.OK)
            msg = '; '.join(m for _, m in self._messages.values()) or 'ok'
            values = [KeyValue(key=k, value=str(v)) for k, v in sorted(self.counters.items())]
        arr = DiagnosticArray()
        arr.header.stamp = self._node.get_clock().now().to_msg()
        arr.status = [DiagnosticStatus(level=level,
                                       name=f'{self._node.get_fully_qualified_name()}: {self._name}',
                                       message=msg[:500], hardware_id=self._name, values=values)]
        self._pub.publish(arr)


def split_ros_args(argv: list[str] | None) -> tuple[list[str], list[str]]:
    """(command-line arguments, ``--ros-args ...``) from ``argv`` (``sys.argv[1:]`` when None)."""
    import sys
    argv = list(sys.argv[1:] if argv is None else argv)
    if '--ros-args' in argv:
        i = argv.index('--ros-args')
        return argv[:i], argv[i:]
    return argv, []


def run(node_cls: type, args: list[str] | None = None) -> int:
    """Body of every node's ``main()``: init, build the node, spin until Ctrl-C, shut down.

    A configuration error (``ValueError`` naming the parameter and the value) is logged and
    gives exit status 2 instead of a traceback.
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.logging import get_logger

    rclpy.init(args=args)
    node = None
    try:
        node = node_cls()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ValueError as exc:
        get_logger(getattr(node_cls, '__name__', 'node')).fatal(f'invalid configuration: {exc}')
        return 2
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
