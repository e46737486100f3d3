"""rosbag2 (MCAP) writer for the simulator: message construction with the walkout type store."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer

from walkout_core.bagio import typestore

__all__ = ['BagWriter', 'SIM_EPOCH_S', 'stamp', 'header', 'TOPIC_TYPES']

log = logging.getLogger(__name__)

#: Sim time zero [s since the Unix epoch].
SIM_EPOCH_S = 1_780_000_000

#: Topic -> type of everything a simulator bag may hold (``<cam>`` is a camera id).
TOPIC_TYPES = {
    '/camera/<cam>/image/compressed': 'sensor_msgs/msg/CompressedImage',
    '/camera/<cam>/image': 'sensor_msgs/msg/Image',
    '/shelves/load_cells': 'walkout_msgs/msg/LoadCellReadings',
    '/checkout/card_presented': 'walkout_msgs/msg/CardPresented',
    '/truth/persons': 'walkout_msgs/msg/TruthPersonArray',
    '/truth/events': 'walkout_msgs/msg/TruthEvent',
    '/truth/baskets': 'walkout_msgs/msg/TruthBasketArray',
}


def sim_ns(t: float) -> int:
    """Sim time [s from the scenario start] -> bag timestamp [ns since the epoch]."""
    return SIM_EPOCH_S * 1_000_000_000 + int(round(t * 1e9))


def stamp(t: float) -> Any:
    ns = sim_ns(t)
    return typestore().types['builtin_interfaces/msg/Time'](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def header(t: float, frame_id: str = 'map') -> Any:
    return typestore().types['std_msgs/msg/Header'](stamp=stamp(t), frame_id=frame_id)


class BagWriter:
    """Opens ``path`` (must not exist) as a rosbag2 MCAP bag; ``write`` adds connections on first use."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.store = typestore()
        self.types = self.store.types
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._conns: dict[str, Any] = {}
        self.counts: dict[str, int] = {}

    def __enter__(self) -> 'BagWriter':
        self._writer.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self._writer.close()

    def declare(self, topic: str, msgtype: str) -> Any:
        """Add a topic (so it is listed even if no message is ever written on it)."""
        conn = self._conns.get(topic)
        if conn is None:
            conn = self._writer.add_connection(topic, msgtype, typestore=self.store)
            self._conns[topic] = conn
        return conn

    def write(self, topic: str, msgtype: str, msg: Any, t: float) -> None:
        conn = self.declare(topic, msgtype)
        self._writer.write(conn, sim_ns(t), self.store.serialize_cdr(msg, msgtype))
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def make(self, msgtype: str, **fields: Any) -> Any:
        return self.types[msgtype](**fields)

    @staticmethod
    def u8(data: bytes | np.ndarray) -> np.ndarray:
        return np.frombuffer(bytes(data), dtype=np.uint8) if not isinstance(data, np.ndarray) else \
            np.ascontiguousarray(data, dtype=np.uint8).reshape(-1)
