"""Shelf controller line protocol: encode/parse, checksum, bad lines, sequence numbers."""
import math

import numpy as np
import pytest

from walkout_core.shelf.protocol import (STATUS_NAN, STATUS_NO_DATA, STATUS_OUT_OF_RANGE, STATUS_SATURATED,
                                         LineError, SequenceTracker, checksum, encode_line, flag_out_of_range,
                                         parse_line)


def test_round_trip_with_special_readings():
    line = encode_line('bay07', 41, 123456, [1520.44, -3.0, float('nan'), 0.0, 7.0],
                       [0, 0, STATUS_NAN, STATUS_NO_DATA, STATUS_SATURATED])
    assert line.endswith(b'\r\n') and line.startswith(b'$WLC,bay07,41,123456,5,')
    s = parse_line(line)
    assert (s.controller_id, s.sequence, s.tick_ms) == ('bay07', 41, 123456)
    assert s.weights_g[0] == pytest.approx(1520.4, abs=1e-3) and s.weights_g[1] == pytest.approx(-3.0)
    assert math.isnan(s.weights_g[2]) and math.isnan(s.weights_g[3]) and math.isnan(s.weights_g[4])
    assert list(s.status) == [0, 0, STATUS_NAN, STATUS_NO_DATA, STATUS_SATURATED]


def test_checksum_is_crc16_ccitt_false():
    assert checksum(b'123456789') == 0x29B1       # the standard check value


def test_one_flipped_character_is_a_checksum_error():
    line = bytearray(encode_line('S1', 1, 2, [100.0, 200.0]))
    line[line.index(b'100') + 1] = ord('9')
    with pytest.raises(LineError) as err:
        parse_line(bytes(line))
    assert err.value.reason == 'checksum'


def _framed(payload: str) -> bytes:
    return b'$' + payload.encode() + b'*' + f'{checksum(payload.encode()):04X}'.encode() + b'\r\n'


@pytest.mark.parametrize('raw', [
    b'', b'garbage\r\n', b'WLC,S1,1,2,1,5.0*0000\r\n', b'$WLC,S1,1,2,1,5.0*12\r\n', b'$WLC,S1*1*2\r\n',
    b'\xff\xfe$WLC\r\n', _framed('WLC,S1,1,2,2,5.0'), _framed('XYZ,S1,1,2,1,5.0'), _framed('WLC,S 1,1,2,1,5.0'),
    _framed('WLC,S1,-1,2,1,5.0'), _framed('WLC,S1,1,2,1,abc'), _framed('WLC,S1,1,2,1,inf'),
    _framed('WLC,S1,4294967296,2,1,5.0'),
])
def test_garbled_lines_raise_line_error(raw):
    with pytest.raises(LineError) as err:
        parse_line(raw)
    assert err.value.reason == 'garbled'


def test_encode_rejects_bad_ids():
    with pytest.raises(ValueError):
        encode_line('bad id', 1, 1, [1.0])


def test_out_of_range_flags():
    st = flag_out_of_range(np.array([10.0, 30001.0, -60.0, -20.0, np.nan]), np.zeros(5, np.uint8), 30000.0, 50.0)
    assert list(st) == [0, STATUS_OUT_OF_RANGE, STATUS_OUT_OF_RANGE, 0, 0]


def test_sequence_tracker_gap_wrap_repeat_reset():
    tr = SequenceTracker()
    assert tr.feed(2**32 - 2) == ('first', 0)
    assert tr.feed(2**32 - 1) == ('ok', 0)
    assert tr.feed(0) == ('ok', 0)                 # wraps
    assert tr.feed(4) == ('gap', 3)
    assert tr.feed(4) == ('repeat', 0)
    assert tr.feed(2) == ('repeat', 0)
    assert tr.feed(5) == ('ok', 0)                 # the last good number was kept
    assert tr.feed(1_000_000)[0] == 'gap'
    assert tr.feed(0) == ('reset', 0)              # controller restarted
    assert tr.feed(1) == ('ok', 0)
