"""Serial line protocol of a shelf controller (one line per sample of all its load cells).

A line is ASCII, NMEA-like, ended by CR LF::

    $WLC,<controller_id>,<sequence>,<tick_ms>,<n>,<r_0>,...,<r_n-1>*<crc>\\r\\n

* ``controller_id``: the layout's shelf unit (``[A-Za-z0-9_.-]+``).
* ``sequence``: sample counter, decimal, wraps at 2**32.
* ``tick_ms``: the controller's millisecond clock, decimal, wraps at 2**32 (informative).
* ``n``: number of readings; reading ``i`` is cell ``i`` of the controller, in layout order
  (shelves of the unit in layout order, lanes from 0).
* ``r_i``: grams as a decimal number (``1520.4``, ``-3.1``), or ``nan`` (no value), ``-`` (the cell
  did not answer), ``sat`` (ADC at its rail).
* ``crc``: CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF; :func:`binascii.crc_hqx`) of the bytes
  between ``$`` and ``*``, four upper-case hex digits.

:func:`parse_line` returns a :class:`ControllerSample` or raises :class:`LineError` whose
``reason`` is ``'garbled'`` or ``'checksum'``. :class:`SequenceTracker` classifies sequence numbers.
"""
from __future__ import annotations

import binascii
import math
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ['STATUS_OK', 'STATUS_NAN', 'STATUS_OUT_OF_RANGE', 'STATUS_SATURATED', 'STATUS_NO_DATA',
           'LineError', 'ControllerSample', 'checksum', 'encode_line', 'parse_line', 'flag_out_of_range',
           'SequenceTracker', 'SEQ_MOD']

# Same values as walkout_msgs/LoadCellReadings.STATUS_* (a node test holds them equal).
STATUS_OK = 0
STATUS_NAN = 1
STATUS_OUT_OF_RANGE = 2
STATUS_SATURATED = 4
STATUS_NO_DATA = 8

SEQ_MOD = 2 ** 32
_TAG = 'WLC'
_ID_RE = re.compile(r'^[A-Za-z0-9_.\-]+$')
_SPECIAL = {'nan': STATUS_NAN, '-': STATUS_NO_DATA, 'sat': STATUS_SATURATED}


class LineError(ValueError):
    """A line that cannot be used. ``reason``: ``'garbled'`` or ``'checksum'``."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ControllerSample:
    controller_id: str
    sequence: int
    tick_ms: int
    weights_g: np.ndarray          # float32, NaN where the cell gave no value
    status: np.ndarray             # uint8 STATUS_* mask per cell


def checksum(payload: bytes) -> int:
    """CRC-16/CCITT-FALSE of ``payload``."""
    return binascii.crc_hqx(payload, 0xFFFF)


def _fmt(w: float, st: int) -> str:
    if st & STATUS_NO_DATA:
        return '-'
    if st & STATUS_SATURATED:
        return 'sat'
    if w is None or not math.isfinite(w):
        return 'nan'
    return f'{w:.1f}'


def encode_line(controller_id: str, sequence: int, tick_ms: int, weights_g: Sequence[float],
                status: Sequence[int] | None = None) -> bytes:
    """One protocol line (with CR LF) for a sample of ``controller_id``."""
    if not _ID_RE.match(controller_id):
        raise ValueError(f'controller_id {controller_id!r}: only letters, digits, "_", "." and "-" allowed')
    status = [0] * len(weights_g) if status is None else list(status)
    if len(status) != len(weights_g):
        raise ValueError(f'status has {len(status)} entries for {len(weights_g)} readings')
    fields = [_TAG, controller_id, str(int(sequence) % SEQ_MOD), str(int(tick_ms) % SEQ_MOD), str(len(weights_g))]
    fields += [_fmt(float(w), int(s)) for w, s in zip(weights_g, status)]
    payload = ','.join(fields).encode('ascii')
    return b'$' + payload + b'*' + f'{checksum(payload):04X}'.encode('ascii') + b'\r\n'


def _uint32(text: str, what: str, line: str) -> int:
    if not text.isdigit():
        raise LineError('garbled', f'{what} {text!r} is not a decimal number in {line!r}')
    v = int(text)
    if v >= SEQ_MOD:
        raise LineError('garbled', f'{what} {v} exceeds 32 bits in {line!r}')
    return v


def parse_line(raw: bytes | str) -> ControllerSample:
    """Parse one line (with or without its CR LF)."""
    if isinstance(raw, bytes):
        try:
            line = raw.decode('ascii')
        except UnicodeDecodeError:
            raise LineError('garbled', f'non-ASCII bytes in line {raw[:60]!r}') from None
    else:
        line = raw
    line = line.strip('\r\n')
    short = line[:60]
    if not line.startswith('$') or line.count('*') != 1:
        raise LineError('garbled', f'no "$...*crc" frame in {short!r}')
    payload, crc_text = line[1:].split('*')
    if len(crc_text) != 4 or any(c not in '0123456789ABCDEFabcdef' for c in crc_text):
        raise LineError('garbled', f'checksum field {crc_text!r} is not 4 hex digits in {short!r}')
    if int(crc_text, 16) != checksum(payload.encode('ascii')):
        raise LineError('checksum', f'checksum {crc_text} does not match the line {short!r}')
    fields = payload.split(',')
    if len(fields) < 5 or fields[0] != _TAG:
        raise LineError('garbled', f'expected "{_TAG},id,seq,tick,n,..." in {short!r}')
    cid = fields[1]
    if not _ID_RE.match(cid):
        raise LineError('garbled', f'bad controller id {cid!r} in {short!r}')
    seq = _uint32(fields[2], 'sequence', short)
    tick = _uint32(fields[3], 'tick_ms', short)
    n = _uint32(fields[4], 'reading count', short)
    tokens = fields[5:]
    if len(tokens) != n:
        raise LineError('garbled', f'{len(tokens)} readings where the line announces {n} in {short!r}')
    weights = np.empty(n, np.float32)
    status = np.zeros(n, np.uint8)
    for i, tok in enumerate(tokens):
        special = _SPECIAL.get(tok.lower())
        if special is not None:
            weights[i] = np.nan
            status[i] = special
            continue
        try:
            v = float(tok)
        except ValueError:
            raise LineError('garbled', f'reading {i} {tok!r} is not a number in {short!r}') from None
        if not math.isfinite(v):
            raise LineError('garbled', f'reading {i} {tok!r} is not finite in {short!r}')
        weights[i] = v
    return ControllerSample(cid, seq, tick, weights, status)


def flag_out_of_range(weights_g: np.ndarray, status: np.ndarray, capacity_g: np.ndarray | float,
                      negative_limit_g: float) -> np.ndarray:
    """``status`` with STATUS_OUT_OF_RANGE added where a value is above capacity or below -limit."""
    w = np.asarray(weights_g, dtype=float)
    with np.errstate(invalid='ignore'):
        oor = (w > capacity_g) | (w < -negative_limit_g)
    return (np.asarray(status, np.uint8) | np.where(oor, STATUS_OUT_OF_RANGE, 0)).astype(np.uint8)


class SequenceTracker:
    """Classifies each sequence number against the previous one (modulo 2**32).

    ``feed(seq)`` returns ``(kind, missed)``: ``'first'``, ``'ok'``, ``'gap'`` (``missed`` samples
    lost), ``'repeat'`` (same number, or at most ``reset_window`` back: dropped, the last number
    is kept) or ``'reset'`` (a larger jump backwards: the controller restarted; accepted).
    """

    def __init__(self, reset_window: int = 16):
        self.reset_window = int(reset_window)
        self.last: int | None = None

    def reset(self) -> None:
        self.last = None

    def feed(self, seq: int) -> tuple[str, int]:
        last, self.last = self.last, int(seq) % SEQ_MOD
        if last is None:
            return 'first', 0
        step = (self.last - last) % SEQ_MOD
        if step == 1:
            return 'ok', 0
        if step == 0 or step >= SEQ_MOD - self.reset_window:
            self.last = last
            return 'repeat', 0
        if step < SEQ_MOD // 2:
            return 'gap', step - 1
        return 'reset', 0
