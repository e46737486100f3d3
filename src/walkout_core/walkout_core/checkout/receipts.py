"""Receipts in SQLite (WAL): one per avatar, found again by request id or avatar; QR payload."""
from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from walkout_core.basket.store import ItemLine

__all__ = ['ReceiptRecord', 'ReceiptStore', 'qr_payload', 'verify_qr']

_SCHEMA = """
CREATE TABLE IF NOT EXISTS receipts (
    receipt_id TEXT PRIMARY KEY, avatar_id INTEGER NOT NULL UNIQUE, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY, receipt_id TEXT NOT NULL);
"""


@dataclass(frozen=True)
class ReceiptRecord:
    receipt_id: str
    avatar_id: int
    checkout_zone_id: str
    items: tuple[ItemLine, ...]
    total: float
    currency: str
    payment_method: int
    pin_used: bool
    qr_payload: str
    stamp: float                    # [s] payment time
    request_id: str = ''


def _checksum(key: str, receipt_id: str, total: str) -> str:
    return hmac.new(key.encode(), f'{receipt_id}:{total}'.encode(), hashlib.sha256).hexdigest()[:12]


def qr_payload(key: str, receipt_id: str, total: float) -> str:
    """``walkout:receipt:<id>:<total>:<checksum>``: identifies the receipt, no personal data."""
    t = f'{total:.2f}'
    return f'walkout:receipt:{receipt_id}:{t}:{_checksum(key, receipt_id, t)}'


def verify_qr(key: str, payload: str) -> str | None:
    """The receipt id of a genuine payload, else None."""
    parts = payload.split(':')
    if len(parts) != 5 or parts[:2] != ['walkout', 'receipt']:
        return None
    rid, total, check = parts[2], parts[3], parts[4]
    return rid if hmac.compare_digest(_checksum(key, rid, total), check) else None


class ReceiptStore:
    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ':memory:':
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute('PRAGMA journal_mode=WAL')
        self._db.execute('PRAGMA synchronous=FULL')
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @staticmethod
    def _load(body: str) -> ReceiptRecord:
        d = json.loads(body)
        d['items'] = tuple(ItemLine(**x) for x in d['items'])
        return ReceiptRecord(**d)

    def by_request(self, request_id: str) -> ReceiptRecord | None:
        with self._lock:
            row = self._db.execute('SELECT r.body FROM requests q JOIN receipts r ON q.receipt_id = r.receipt_id '
                                   'WHERE q.request_id=?', (request_id,)).fetchone()
        return self._load(row[0]) if row else None

    def by_avatar(self, avatar_id: int) -> ReceiptRecord | None:
        with self._lock:
            row = self._db.execute('SELECT body FROM receipts WHERE avatar_id=?', (avatar_id,)).fetchone()
        return self._load(row[0]) if row else None

    def add(self, r: ReceiptRecord) -> ReceiptRecord:
        """Store a receipt (committed before returning); an avatar that already has one keeps it."""
        with self._lock:
            self._db.execute('BEGIN IMMEDIATE')
            try:
                row = self._db.execute('SELECT body FROM receipts WHERE avatar_id=?', (r.avatar_id,)).fetchone()
                if row is None:
                    self._db.execute('INSERT INTO receipts VALUES (?, ?, ?)',
                                     (r.receipt_id, r.avatar_id, json.dumps(asdict(r), sort_keys=True)))
                    kept = r
                else:
                    kept = self._load(row[0])
                if r.request_id:
                    self._db.execute('INSERT OR IGNORE INTO requests VALUES (?, ?)', (r.request_id, kept.receipt_id))
            except BaseException:
                self._db.execute('ROLLBACK')
                raise
            self._db.execute('COMMIT')
        return kept

    def remember_request(self, request_id: str, receipt_id: str) -> None:
        with self._lock:
            self._db.execute('INSERT OR IGNORE INTO requests VALUES (?, ?)', (request_id, receipt_id))

    def all(self) -> list[ReceiptRecord]:
        with self._lock:
            return [self._load(b) for (b,) in self._db.execute('SELECT body FROM receipts ORDER BY receipt_id')]
