"""Small synthetic rosbag2 bags written with rosbags (for player, recorder and runner tests)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer

from walkout_core.bagio import typestore

EPOCH_NS = 1_780_000_000 * 1_000_000_000


def _stamp(ts, t_ns):
    Time = ts.types['builtin_interfaces/msg/Time']
    return Time(sec=t_ns // 1_000_000_000, nanosec=t_ns % 1_000_000_000)


def _header(ts, t_ns, frame='map'):
    return ts.types['std_msgs/msg/Header'](stamp=_stamp(ts, t_ns), frame_id=frame)


def load_cells(ts, t_ns, seq, controller='S1', n=4, weights=None):
    T = ts.types['walkout_msgs/msg/LoadCellReadings']
    w = np.full(n, 500.0, np.float32) if weights is None else np.asarray(weights, np.float32)
    return T(header=_header(ts, t_ns), controller_id=controller, sequence=seq,
             shelf_ids=[controller] * n, lanes=np.arange(n, dtype=np.uint16),
             weights_g=w, status=np.zeros(n, np.uint8))


def truth_event(ts, t_ns, i):
    T = ts.types['walkout_msgs/msg/TruthEvent']
    P = ts.types['builtin_interfaces/msg/Time']
    return T(header=_header(ts, t_ns), event_id=f't{i}', kind=0, person_id=1, counterpart_id=0, shelf_id='S1',
             lane=0, product_id='p001', quantity=1, weight_change_g=-500.0, settled_stamp=_stamp(ts, t_ns))


def write_bag(path: Path, duration_s: float = 2.0, rate_hz: float = 20.0, storage: str = 'mcap',
              picks: tuple = ()) -> Path:
    """A bag with /shelves/load_cells (controller S1, 4 lanes of 500 g) at ``rate_hz`` and one
    /truth/events message per second; ``picks`` = ((sample index, lane), ...): 300 g leave the lane."""
    ts = typestore()
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    with Writer(path, version=9, storage_plugin=plugin) as w:
        lc = w.add_connection('/shelves/load_cells', 'walkout_msgs/msg/LoadCellReadings', typestore=ts)
        te = w.add_connection('/truth/events', 'walkout_msgs/msg/TruthEvent', typestore=ts)
        n = int(round(duration_s * rate_hz))
        for i in range(n + 1):
            t = EPOCH_NS + int(i * 1e9 / rate_hz)
            weights = [500.0 - 300.0 * sum(1 for j, ln in picks if ln == lane and j <= i) for lane in range(4)]
            w.write(lc, t, ts.serialize_cdr(load_cells(ts, t, i, weights=weights),
                                            'walkout_msgs/msg/LoadCellReadings'))
            if i % int(rate_hz) == 0:
                w.write(te, t, ts.serialize_cdr(truth_event(ts, t, i), 'walkout_msgs/msg/TruthEvent'))
    return path


def write_bag_with_unknown_type(path: Path) -> Path:
    ts = typestore()
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        c = w.add_connection('/weird', 'nosuch_msgs/msg/Thing', msgdef='int32 x', rihs01='RIHS01_' + '0' * 64)
        w.write(c, EPOCH_NS, b'\x00\x01\x00\x00\x05\x00\x00\x00')
    return path
