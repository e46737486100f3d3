"""Record any set of topics into an MCAP rosbag2 bag (rosbags writer), serialized bytes as they come.

Topics are found on the graph as they appear (their type from the graph); a
topic whose type is unknown to the bag type store is reported once and skipped.
The bag time of a message is its ``header.stamp`` when it starts with a header
(``stamp_from_header``), else the node clock (sim time with ``use_sim_time``).

``./walkout record --out <dir> /topic ...`` (all topics when none is given) or
``ros2 run walkout_nodes bag_recorder --ros-args -p out:=<dir> -p topics:=[...]``.
"""
from __future__ import annotations

import argparse
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from walkout_core.bagio import typestore
from walkout_core.config import param
from walkout_nodes.bag_player import header_stamp_ns, message_class, qos_for_topic
from walkout_nodes.common import Diagnostics, declare_config, split_ros_args

__all__ = ['BagRecorderConfig', 'BagRecorder', 'NODE_CLASS', 'main']


@dataclass(frozen=True)
class BagRecorderConfig:
    out: str = param('', '-', 'directory of the new bag (must not exist)')
    topics: list = param([''], '-', 'topics to record (empty = every topic on the graph)')
    exclude_prefixes: list = param(['/rosout', '/parameter_events'], '-', 'topics starting with these are ignored')
    discovery_period_s: float = param(0.5, 's', 'how often new topics are looked for', min_value=0.01,
                                      max_value=60.0)
    reliable_sensors: bool = param(True, '-', 'subscribe to sensor topics reliably (no loss when recording)')
    stamp_from_header: bool = param(True, '-', 'use header.stamp as the bag time when the message has one')

    def check(self) -> None:
        if not self.out:
            raise ValueError("parameter 'out': '' : the output bag directory is required")


class BagRecorder(Node):
    def __init__(self, node_name: str = 'bag_recorder', **kwargs: Any):
        super().__init__(node_name, **kwargs)
        self.cfg: BagRecorderConfig = declare_config(self, BagRecorderConfig)
        from rosbags.rosbag2 import StoragePlugin, Writer
        out = Path(self.cfg.out)
        if out.exists():
            raise ValueError(f"parameter 'out': {str(out)!r} already exists (rosbag2 writes a new directory)")
        self._store = typestore()
        self._writer = Writer(out, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._lock = threading.Lock()
        self._conns: dict[str, Any] = {}
        self._has_header: dict[str, bool] = {}
        self._rejected: set[str] = set()
        self.counts: dict[str, int] = {}
        self.diag = Diagnostics(self, 'bag_recorder')
        self._wanted = [t for t in self.cfg.topics if t]
        self._timer = self.create_timer(self.cfg.discovery_period_s, self.discover)
        self.discover()
        self.get_logger().info(f'recording {self._wanted or "every topic"} into {out}')

    def discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic in self._conns or topic in self._rejected:
                continue
            if self._wanted and topic not in self._wanted:
                continue
            if not self._wanted and any(topic.startswith(p) for p in self.cfg.exclude_prefixes if p):
                continue
            self.add_topic(topic, types[0])

    def add_topic(self, topic: str, msgtype: str) -> bool:
        if msgtype not in self._store.fielddefs:
            self._rejected.add(topic)
            self.diag.problem('unknown_type', f'not recording {topic}: message type {msgtype} unknown to the bag '
                              'type store')
            return False
        try:
            cls = message_class(msgtype)
        except Exception as exc:  # noqa: BLE001 - BagError: the type is not installed here
            self._rejected.add(topic)
            self.diag.problem('unknown_type', f'not recording {topic}: {exc}')
            return False
        fields = self._store.fielddefs[msgtype][1]
        first = fields[0][1][1] if fields else None
        with self._lock:
            self._conns[topic] = self._writer.add_connection(topic, msgtype, typestore=self._store)
            self._has_header[topic] = first in ('std_msgs/msg/Header', 'builtin_interfaces/msg/Time')
            self.counts[topic] = 0
        self.create_subscription(cls, topic, lambda data, t=topic: self._on_msg(t, data),
                                 qos_for_topic(topic, self.cfg.reliable_sensors), raw=True)
        return True

    def _on_msg(self, topic: str, data: bytes) -> None:
        stamp = header_stamp_ns(data) if self.cfg.stamp_from_header and self._has_header[topic] else None
        if stamp is None or stamp <= 0:
            stamp = self.get_clock().now().nanoseconds
        with self._lock:
            if self._writer is None:
                return
            self._writer.write(self._conns[topic], stamp, data)
            self.counts[topic] += 1
        self.diag.count('messages')

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def destroy_node(self) -> None:
        self.close()
        super().destroy_node()


NODE_CLASS = BagRecorder


def main(argv: list[str] | None = None) -> int:
    """``walkout record --out <dir> [topic ...]`` (Ctrl-C stops and closes the bag)."""
    argv, ros_args = split_ros_args(argv)
    ap = argparse.ArgumentParser(prog='walkout record', description='Record topics into an MCAP rosbag2 bag.')
    ap.add_argument('topics', nargs='*', help='topics (default: all)')
    ap.add_argument('--out', '-o', help='new bag directory')
    ns = ap.parse_args(argv)
    from rclpy.parameter import Parameter
    overrides = []
    if ns.out:
        overrides.append(Parameter('out', value=ns.out))
    if ns.topics:
        overrides.append(Parameter('topics', value=ns.topics))
    rclpy.init(args=['walkout_record'] + ros_args)
    node = None
    try:
        try:
            node = BagRecorder(parameter_overrides=overrides)
        except ValueError as exc:
            print(f'walkout record: {exc}', file=sys.stderr)
            return 2
        ex = SingleThreadedExecutor()
        ex.add_node(node)
        ex.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
            print(f'walkout record: {sum(node.counts.values())} messages: {node.counts}')
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
