"""shelf_sensor_node over a real pseudo-terminal pair: good lines, garbled, bad checksum, sequence gap,
the writer closing and reopening (reconnect). The node keeps running and publishing."""
import os
import tty

import pytest

rclpy = pytest.importorskip('rclpy')
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rosutil import spin_until  # noqa: E402

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from walkout_core.layout import load_layout  # noqa: E402
from walkout_core.shelf import protocol  # noqa: E402
from walkout_msgs.msg import LoadCellReadings  # noqa: E402
from walkout_nodes.common import sensor_qos  # noqa: E402
from walkout_nodes.shelf_sensor_node import ShelfSensorNode  # noqa: E402


class Pty:
    """A pty pair whose slave is reachable through a stable symlink (like a udev by-id link)."""

    def __init__(self, link):
        self.link = link
        self.master = self.slave = None
        self.open()

    def open(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        tmp = self.link + '.new'
        os.symlink(os.ttyname(self.slave), tmp)
        os.replace(tmp, self.link)

    def close(self):
        for fd in (self.master, self.slave):
            if fd is not None:
                os.close(fd)
        self.master = self.slave = None

    def write(self, data: bytes):
        os.write(self.master, data)


def test_serial_input_over_pty(ctx, tmp_path):
    layout = load_layout('small')
    n = sum(len(s.lanes) for s in layout.controllers()['S3'])
    pty = Pty(str(tmp_path / 'ttyWLC'))
    node = ShelfSensorNode(context=ctx, parameter_overrides=[
        Parameter('controller_id', value='S3'), Parameter('port', value=pty.link),
        Parameter('layout', value='small'), Parameter('reliable_sensors', value=True),
        Parameter('reconnect_min_s', value=0.05), Parameter('reconnect_max_s', value=0.2),
        Parameter('diagnostics_period_s', value=0.2)])
    listener = rclpy.create_node('pty_listener', context=ctx)
    got, diags = [], []
    listener.create_subscription(LoadCellReadings, '/shelves/load_cells', got.append, sensor_qos(True))
    listener.create_subscription(DiagnosticArray, '/diagnostics', diags.append, 10)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    ex.add_node(listener)
    try:
        assert spin_until(ex, lambda: node._ser is not None and node.count_subscribers('/shelves/load_cells') > 0)

        def line(seq, weights=None, status=None):
            return protocol.encode_line('S3', seq, 1000 + seq * 50, weights or [6312.0, 6660.0, 3192.0, 12564.0],
                                        status)
        good = b''.join(line(i) for i in range(3))
        garbled = b'$WLC,S3,3,1150,4,12x.0,**zz\r\n'
        bad_crc = bytearray(line(3))
        bad_crc[bad_crc.index(b'6312') + 1] = ord('9')
        special = line(3, [float('nan'), 31000.0, -500.0, 10.0], [protocol.STATUS_NAN, 0, 0, 0])
        gap = line(6)                                              # 4 and 5 never arrive
        pty.write(good + garbled + bytes(bad_crc) + special + gap)
        assert spin_until(ex, lambda: len(got) >= 5)
        assert [m.sequence for m in got] == [0, 1, 2, 3, 6]
        m = got[3]
        assert list(m.shelf_ids) == ['S3'] * n and list(m.lanes) == [0, 1, 2, 3]
        assert list(m.status) == [LoadCellReadings.STATUS_NAN, LoadCellReadings.STATUS_OUT_OF_RANGE,
                                  LoadCellReadings.STATUS_OUT_OF_RANGE, LoadCellReadings.STATUS_OK]
        assert got[0].weights_g[0] == pytest.approx(6312.0)
        c = node.diag.counters
        assert (c['garbled_lines'], c['bad_checksums'], c['sequence_gaps'], c['missed_samples']) == (1, 1, 1, 2)

        # the controller side closes (cable pulled), then comes back on a new pty behind the same link
        pty.close()
        assert spin_until(ex, lambda: node._ser is None)
        pty.open()
        assert spin_until(ex, lambda: node._ser is not None)
        pty.write(b''.join(line(i) for i in range(7, 10)))
        assert spin_until(ex, lambda: len(got) >= 8)
        assert [m.sequence for m in got[5:]] == [7, 8, 9]
        assert node.diag.counters['reconnects'] == 1
        assert spin_until(ex, lambda: any(
            {kv.key: kv.value for kv in d.status[0].values}.get('reconnects') == '1'
            for d in diags if d.status and 'S3' in d.status[0].name))
        status = [d.status[0] for d in diags if d.status and 'S3' in d.status[0].name][-1]
        values = {kv.key: kv.value for kv in status.values}
        assert values['garbled_lines'] == '1' and values['bad_checksums'] == '1' and values['sequence_gaps'] == '1'
    finally:
        ex.shutdown()
        node.destroy_node()
        listener.destroy_node()
        pty.close()


def test_status_bits_and_flags_match_the_messages():
    from walkout_core.shelf import identify
    from walkout_msgs.msg import ShelfEvent
    for name in ('NAN', 'OUT_OF_RANGE', 'SATURATED', 'NO_DATA', 'OK'):
        assert getattr(protocol, f'STATUS_{name}') == getattr(LoadCellReadings, f'STATUS_{name}')
    for name in ('NONE', 'SENSOR_FAULT', 'MISPLACED', 'UNKNOWN', 'MULTI_LANE'):
        assert getattr(identify, f'FLAG_{name}') == getattr(ShelfEvent, f'FLAG_{name}')


def test_unknown_controller_is_rejected_with_the_parameter_name(ctx):
    with pytest.raises(ValueError, match='controller_id'):
        ShelfSensorNode(context=ctx, parameter_overrides=[Parameter('controller_id', value='nope')])


def test_missing_port_is_retried_with_backoff(ctx, tmp_path):
    node = ShelfSensorNode(context=ctx, parameter_overrides=[
        Parameter('controller_id', value='S1'), Parameter('port', value=str(tmp_path / 'absent')),
        Parameter('reconnect_min_s', value=0.05), Parameter('reconnect_max_s', value=0.1)])
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    try:
        assert spin_until(ex, lambda: node.diag.counters['open_failures'] >= 3, timeout=5.0)
        assert node._ser is None and node._backoff == pytest.approx(0.1)
    finally:
        ex.shutdown()
        node.destroy_node()
