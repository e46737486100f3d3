"""shelf_sensor_node: one shelf controller's serial line -> /shelves/load_cells.

Reads the line protocol of :mod:`walkout_core.shelf.protocol` with pyserial (non-blocking, polled by
a timer), publishes one ``LoadCellReadings`` per valid line, stamped with the reception time. Garbled
lines, bad checksums, sequence gaps/repeats/resets, wrong controller ids, wrong cell counts, silence
and reconnects are counted, logged once per burst and reported on ``/diagnostics``; a lost port is
reopened with exponential backoff. Nothing of that stops the node.
"""
from __future__ import annotations

import array
import time

import numpy as np
import serial
from rclpy.node import Node

from walkout_core.layout import load_layout
from walkout_core.shelf.config import ShelfSensorConfig
from walkout_core.shelf.protocol import LineError, SequenceTracker, flag_out_of_range, parse_line
from walkout_msgs.msg import LoadCellReadings

from .common import Diagnostics, declare_config, param_update_callback, run, sensor_qos

__all__ = ['ShelfSensorNode', 'NODE_CLASS', 'main']


_FIXED = ('controller_id', 'port', 'baud', 'layout', 'reliable_sensors', 'poll_period_s', 'diagnostics_period_s')


def _typed_array(typecode: str, values: np.ndarray) -> array.array:
    out = array.array(typecode)
    out.frombytes(np.ascontiguousarray(values).tobytes())
    return out


class ShelfSensorNode(Node):
    def __init__(self, node_name: str = 'shelf_sensor_node', **kwargs):
        super().__init__(node_name, **kwargs)
        self.cfg = declare_config(self, ShelfSensorConfig)
        layout = load_layout(self.cfg.layout)
        shelves = layout.controllers().get(self.cfg.controller_id)
        if not self.cfg.controller_id or shelves is None:
            raise ValueError(f"parameter 'controller_id': {self.cfg.controller_id!r} is not a shelf unit of "
                             f"layout {layout.name!r} ({', '.join(layout.controllers())})")
        self.frame_id = layout.frame_id
        self.shelf_ids = [s.id for s in shelves for _ in s.lanes]
        self.lanes = array.array('H', [ln.index for s in shelves for ln in s.lanes])
        self.capacity_g = np.array([s.capacity_kg * 1000.0 for s in shelves for _ in s.lanes])
        self.diag = Diagnostics(self, f'shelf controller {self.cfg.controller_id}',
                                period_s=self.cfg.diagnostics_period_s)
        self.pub = self.create_publisher(LoadCellReadings, '/shelves/load_cells', sensor_qos(self.cfg.reliable_sensors))
        self.seq = SequenceTracker()
        self._ser: serial.Serial | None = None
        self._buf = bytearray()
        self._synced = False
        self._backoff = self.cfg.reconnect_min_s
        self._next_open = 0.0
        self._last_rx = 0.0
        self._ever_connected = False
        self.timer = self.create_timer(self.cfg.poll_period_s, self._poll)
        self.add_on_set_parameters_callback(
            param_update_callback(self, ShelfSensorConfig, lambda: self.cfg, self._apply_cfg, fixed=_FIXED))

    # ------------------------------------------------------------------ parameters
    def _apply_cfg(self, cfg: ShelfSensorConfig) -> None:
        self.cfg = cfg

    # ------------------------------------------------------------------ serial link
    def _open(self, now: float) -> None:
        try:
            self._ser = serial.Serial(self.cfg.port, self.cfg.baud, timeout=0)
        except (serial.SerialException, OSError, ValueError) as exc:
            self._ser = None
            self.diag.problem('open_failures', f'cannot open {self.cfg.port}: {exc}; retrying in {self._backoff:.1f} s')
            self._next_open = now + self._backoff
            self._backoff = min(self._backoff * 2.0, self.cfg.reconnect_max_s)
            return
        self._buf.clear()
        self._synced = False
        self._last_rx = now
        self._backoff = self.cfg.reconnect_min_s
        if self._ever_connected:
            self.diag.count('reconnects')
        self._ever_connected = True
        self.diag.clear('open_failures')
        self.diag.clear('link_lost')
        self.get_logger().info(f'controller {self.cfg.controller_id}: reading {self.cfg.port} at {self.cfg.baud} baud')

    def _lost(self, now: float, why: str) -> None:
        self.diag.problem('link_lost', f'{self.cfg.port}: {why}; reopening in {self._backoff:.1f} s')
        try:
            if self._ser is not None:
                self._ser.close()
        except (serial.SerialException, OSError):
            pass
        self._ser = None
        self._next_open = now + self._backoff
        self._backoff = min(self._backoff * 2.0, self.cfg.reconnect_max_s)

    def _poll(self) -> None:
        now = time.monotonic()
        if self._ser is None:
            if now >= self._next_open:
                self._open(now)
            return
        try:
            data = self._ser.read(max(1, self._ser.in_waiting))
        except (serial.SerialException, OSError) as exc:
            self._lost(now, f'read failed ({exc})')
            return
        if not data:
            if now - self._last_rx > self.cfg.silence_timeout_s:
                self.diag.count('silent_timeouts')
                self._lost(now, f'no data for {self.cfg.silence_timeout_s:.1f} s')
            return
        self._last_rx = now
        self._buf += data
        while True:
            nl = self._buf.find(b'\n')
            if nl < 0:
                break
            line = bytes(self._buf[:nl + 1])
            del self._buf[:nl + 1]
            if not self._synced:          # the first line after (re)opening may start mid-line
                self._synced = True
                if not line.startswith(b'$'):
                    self.diag.count('partial_first_lines')
                    continue
            self.handle_line(line)
        if len(self._buf) > self.cfg.max_line_bytes:
            self.diag.problem('garbled_lines', f'line longer than {self.cfg.max_line_bytes} bytes dropped')
            self._buf.clear()
            self._synced = False

    # ------------------------------------------------------------------ lines
    def handle_line(self, line: bytes) -> None:
        """Parse one line and publish its readings; count and report every problem."""
        cid = self.cfg.controller_id
        self.diag.count('lines')
        try:
            s = parse_line(line)
        except LineError as exc:
            key = 'bad_checksums' if exc.reason == 'checksum' else 'garbled_lines'
            self.diag.problem(key, f'controller {cid}: line dropped: {exc}')
            return
        if s.controller_id != cid:
            self.diag.problem('wrong_controller', f'line from controller {s.controller_id!r} on the port of {cid!r}')
            return
        if s.weights_g.size != len(self.shelf_ids):
            self.diag.problem('cell_count_mismatch', f'controller {cid}: {s.weights_g.size} readings, the layout '
                                                     f'has {len(self.shelf_ids)} cells')
            return
        kind, missed = self.seq.feed(s.sequence)
        if kind == 'gap':
            self.diag.count('missed_samples', missed)
            self.diag.problem('sequence_gaps', f'controller {cid}: sequence jumped to {s.sequence} '
                                               f'({missed} samples lost)')
        elif kind == 'repeat':
            self.diag.problem('sequence_repeats', f'controller {cid}: sequence {s.sequence} repeated or old, dropped')
            return
        elif kind == 'reset':
            self.diag.problem('controller_resets', f'controller {cid}: sequence restarted at {s.sequence}')
        status = flag_out_of_range(s.weights_g, s.status, self.capacity_g, self.cfg.negative_limit_g)
        bad = int(np.count_nonzero(status))
        if bad:
            self.diag.count('bad_readings', bad)
        msg = LoadCellReadings()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.frame_id
        msg.controller_id = cid
        msg.sequence = s.sequence
        msg.shelf_ids = self.shelf_ids
        msg.lanes = self.lanes
        msg.weights_g = _typed_array('f', s.weights_g.astype(np.float32))
        msg.status = _typed_array('B', status)
        self.pub.publish(msg)
        self.diag.count('published')

    def destroy_node(self) -> None:
        if self._ser is not None:
            try:
                self._ser.close()
            except (serial.SerialException, OSError):
                pass
            self._ser = None
        super().destroy_node()


NODE_CLASS = ShelfSensorNode


def main(args=None) -> int:
    return run(ShelfSensorNode, args)


if __name__ == '__main__':
    main()
