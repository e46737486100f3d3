"""Durable basket state: SQLite in WAL mode, every change committed before it is published.

One :class:`BasketStore` holds the baskets (lines per avatar), the basket events already applied
(so a replayed or repeated event is applied once), pending reviews, the alert registry (each
alert once, state only moves forward) and an audit log of staff actions. A store re-opened on the
same file after a crash resumes with every committed basket intact.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

from walkout_core.layout import Product

from .model import (AUTO_RESOLVE_BADGE, RESOLVED_SUFFIX, AlertInfo, AlertKind, AlertState, BasketChange,
                    BasketState, Cause, age_alert_id, review_alert_id)

__all__ = ['ItemLine', 'BasketView', 'BasketStore', 'StoreResult']

_SCHEMA = """
CREATE TABLE IF NOT EXISTS baskets (
    avatar_id INTEGER PRIMARY KEY, state INTEGER NOT NULL DEFAULT 0, age_approved INTEGER NOT NULL DEFAULT 0,
    stamp REAL NOT NULL DEFAULT 0, receipt_id TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS items (
    avatar_id INTEGER NOT NULL, product_id TEXT NOT NULL, quantity INTEGER NOT NULL,
    PRIMARY KEY (avatar_id, product_id));
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, stamp REAL NOT NULL, avatar_id INTEGER NOT NULL, product_id TEXT NOT NULL,
    quantity INTEGER NOT NULL, cause INTEGER NOT NULL, needs_review INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reviews (
    alert_id TEXT PRIMARY KEY, event_id TEXT NOT NULL, resolved INTEGER NOT NULL DEFAULT 0,
    resolved_avatar INTEGER NOT NULL DEFAULT 0, badge TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS review_avatars (
    alert_id TEXT NOT NULL, avatar_id INTEGER NOT NULL, PRIMARY KEY (alert_id, avatar_id));
CREATE TABLE IF NOT EXISTS alerts (
    alert_id TEXT PRIMARY KEY, kind INTEGER NOT NULL, state INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, stamp REAL NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL);
"""


@dataclass(frozen=True)
class ItemLine:
    product_id: str
    name: str
    quantity: int
    unit_price: float
    line_total: float
    age_restricted: bool


@dataclass(frozen=True)
class BasketView:
    avatar_id: int
    items: tuple[ItemLine, ...]
    total: float
    currency: str
    state: int
    pending_reviews: int
    age_check_required: bool
    age_approved: bool
    stamp: float
    receipt_id: str = ''

    @property
    def is_empty(self) -> bool:
        return not self.items

    @property
    def blocked_reason(self) -> str:
        """Why payment is refused now ("" if it is allowed)."""
        reasons = []
        if self.pending_reviews:
            reasons.append(f'{self.pending_reviews} review(s) pending')
        if self.age_check_required and not self.age_approved:
            reasons.append('age check pending')
        return '; '.join(reasons)


@dataclass
class StoreResult:
    """What one operation changed: success, a message, avatars whose basket changed, alerts to publish
    (new or with a new state) and basket changes to announce."""
    ok: bool = True
    message: str = ''
    avatars: set[int] = field(default_factory=set)
    alerts: list[AlertInfo] = field(default_factory=list)
    changes: list[BasketChange] = field(default_factory=list)


def _change_to_json(ch: BasketChange) -> str:
    d = asdict(ch)
    d.pop('review', None)
    return json.dumps(d, sort_keys=True)


def _change_from_json(s: str) -> BasketChange:
    return BasketChange(**json.loads(s))


class BasketStore:
    def __init__(self, path: str | Path, catalogue: Mapping[str, Product], currency: str = 'EUR',
                 review_block_min_score: float = 0.05):
        self.path = str(path)
        if self.path != ':memory:':
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.catalogue = catalogue
        self.currency = currency
        self.review_block_min_score = float(review_block_min_score)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute('PRAGMA journal_mode=WAL')
        self._db.execute('PRAGMA synchronous=FULL')
        self._db.executescript(_SCHEMA)
        self.last_stamp = float(self._db.execute('SELECT COALESCE(MAX(stamp), 0) FROM baskets').fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @property
    def journal_mode(self) -> str:
        return str(self._db.execute('PRAGMA journal_mode').fetchone()[0])

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute('BEGIN IMMEDIATE')
            try:
                yield self._db
            except BaseException:
                self._db.execute('ROLLBACK')
                raise
            self._db.execute('COMMIT')

    # ------------------------------------------------------------------ helpers (inside a transaction)
    def _touch(self, db: sqlite3.Connection, avatar_id: int, stamp: float) -> None:
        db.execute('INSERT INTO baskets (avatar_id, stamp) VALUES (?, ?) ON CONFLICT(avatar_id) '
                   'DO UPDATE SET stamp = MAX(stamp, excluded.stamp)', (avatar_id, stamp))
        self.last_stamp = max(self.last_stamp, stamp)

    def _add_items(self, db: sqlite3.Connection, avatar_id: int, product_id: str, quantity: int) -> int:
        """Add (or remove, if negative) units; never below zero. Returns the units actually changed."""
        row = db.execute('SELECT quantity FROM items WHERE avatar_id=? AND product_id=?',
                         (avatar_id, product_id)).fetchone()
        have = row[0] if row else 0
        new = max(0, have + quantity)
        if new == 0:
            db.execute('DELETE FROM items WHERE avatar_id=? AND product_id=?', (avatar_id, product_id))
        else:
            db.execute('INSERT INTO items (avatar_id, product_id, quantity) VALUES (?, ?, ?) '
                       'ON CONFLICT(avatar_id, product_id) DO UPDATE SET quantity=excluded.quantity',
                       (avatar_id, product_id, new))
        return new - have

    def _alert_row(self, db: sqlite3.Connection, alert_id: str) -> AlertInfo | None:
        row = db.execute('SELECT body FROM alerts WHERE alert_id=?', (alert_id,)).fetchone()
        if row is None:
            return None
        d = json.loads(row[0])
        d['location'] = tuple(d['location'])
        return AlertInfo(**d)

    def _put_alert(self, db: sqlite3.Connection, a: AlertInfo) -> None:
        db.execute('INSERT INTO alerts (alert_id, kind, state, body) VALUES (?, ?, ?, ?) ON CONFLICT(alert_id) '
                   'DO UPDATE SET state=excluded.state, body=excluded.body',
                   (a.alert_id, a.kind, a.state, json.dumps(asdict(a), sort_keys=True)))

    def _audit(self, db: sqlite3.Connection, stamp: float, action: str, **detail: object) -> None:
        db.execute('INSERT INTO audit (stamp, action, detail) VALUES (?, ?, ?)',
                   (stamp, action, json.dumps(detail, sort_keys=True)))

    def _age_alert(self, db: sqlite3.Connection, avatar_id: int, stamp: float) -> AlertInfo | None:
        """Open an age-check alert if the basket needs one and none is open or approved."""
        if self._age_state(db, avatar_id) != (True, False):
            return None
        rows = db.execute("SELECT alert_id, state FROM alerts WHERE kind=? AND alert_id LIKE ?",
                          (AlertKind.AGE_CHECK, f'{age_alert_id(avatar_id)}%')).fetchall()
        rows = [r for r in rows if r[0] == age_alert_id(avatar_id) or r[0].startswith(age_alert_id(avatar_id) + ':')]
        if any(r[1] != AlertState.RESOLVED for r in rows):
            return None
        aid = age_alert_id(avatar_id) + (f':{len(rows) + 1}' if rows else '')
        products = [p for (p,) in db.execute('SELECT product_id FROM items WHERE avatar_id=?', (avatar_id,))
                    if self._product(p).age_restricted]
        a = AlertInfo(alert_id=aid, kind=AlertKind.AGE_CHECK, message=f'age check needed for avatar {avatar_id}',
                      product_ids=products, avatar_ids=[avatar_id], avatar_scores=[1.0], stamp=stamp,
                      evidence_start=stamp, evidence_end=stamp)
        self._put_alert(db, a)
        return a

    def _age_state(self, db: sqlite3.Connection, avatar_id: int) -> tuple[bool, bool]:
        required = any(self._product(p).age_restricted for (p,) in
                       db.execute('SELECT product_id FROM items WHERE avatar_id=?', (avatar_id,)))
        row = db.execute('SELECT age_approved FROM baskets WHERE avatar_id=?', (avatar_id,)).fetchone()
        return required, bool(row and row[0])

    def _product(self, product_id: str) -> Product:
        p = self.catalogue.get(product_id)
        return p if p is not None else Product(product_id, product_id, 1.0, 1.0, 0.0)

    # ------------------------------------------------------------------ operations
    def apply_change(self, ch: BasketChange) -> StoreResult:
        """Record a basket event once: apply it, or open its review. Repeats are ignored (ok, no change)."""
        res = StoreResult()
        with self._tx() as db:
            if db.execute('SELECT 1 FROM events WHERE event_id=?', (ch.event_id,)).fetchone():
                return StoreResult(ok=True, message='already applied')
            db.execute('INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
                       (ch.event_id, ch.t, ch.avatar_id, ch.product_id, ch.quantity, ch.cause,
                        int(ch.needs_review), _change_to_json(ch)))
            if ch.needs_review:
                aid = review_alert_id(ch.event_id)
                db.execute('INSERT OR IGNORE INTO reviews (alert_id, event_id) VALUES (?, ?)', (aid, ch.event_id))
                involved = [a for a, s in zip(ch.candidate_avatar_ids, ch.candidate_scores)
                            if s >= self.review_block_min_score and a]
                if ch.avatar_id and ch.avatar_id not in involved:
                    involved.append(ch.avatar_id)
                for a in involved:
                    db.execute('INSERT OR IGNORE INTO review_avatars VALUES (?, ?)', (aid, a))
                    self._touch(db, a, ch.t)
                    res.avatars.add(a)
                if ch.review is not None and self._alert_row(db, aid) is None:
                    self._put_alert(db, ch.review)
                return res
            if ch.cause == Cause.REVIEW_RESOLVED and ch.event_id.endswith(RESOLVED_SUFFIX):
                # the association resolved its own review with later evidence ('<review event>:resolved')
                review_event = ch.event_id[:-len(RESOLVED_SUFFIX)]
                rid = review_alert_id(review_event)
                row = db.execute('SELECT resolved FROM reviews WHERE alert_id=?', (rid,)).fetchone()
                if row is not None and row[0]:
                    return StoreResult(ok=True, message=f'review of {review_event} already resolved: {ch.event_id} '
                                                        'not applied')
                if row is not None:
                    self._close_review(db, rid, ch.avatar_id, AUTO_RESOLVE_BADGE, ch.t, res, [review_event])
                    for a in res.avatars:
                        self._touch(db, a, ch.t)
            if ch.cause in (Cause.RESTOCK, Cause.UNASSIGNED) or not ch.avatar_id:
                return StoreResult(ok=True, message='applied to no basket')
            self._touch(db, ch.avatar_id, ch.t)
            moved = self._add_items(db, ch.avatar_id, ch.product_id, ch.quantity)
            if moved != ch.quantity:
                res.message = f'basket of {ch.avatar_id} had fewer {ch.product_id} than removed'
            res.avatars.add(ch.avatar_id)
            a = self._age_alert(db, ch.avatar_id, ch.t)
            if a:
                res.alerts.append(a)
        return res

    def _close_review(self, db: sqlite3.Connection, alert_id: str, avatar_id: int, badge: str, t: float,
                      res: StoreResult, event_ids: list[str]) -> None:
        """Mark an open review resolved (to ``avatar_id``), unblock its avatars, resolve its alert (made from
        ``event_ids`` if the store never saw it)."""
        res.avatars.update(a for (a,) in db.execute('SELECT avatar_id FROM review_avatars WHERE alert_id=?',
                                                    (alert_id,)))
        db.execute('UPDATE reviews SET resolved=1, resolved_avatar=?, badge=? WHERE alert_id=?',
                   (avatar_id, badge, alert_id))
        db.execute('DELETE FROM review_avatars WHERE alert_id=?', (alert_id,))
        self._audit(db, t, 'resolve_review', alert_id=alert_id, avatar_id=avatar_id, badge=badge)
        alert = self._alert_row(db, alert_id) or AlertInfo(alert_id=alert_id, kind=AlertKind.REVIEW_NEEDED,
                                                           event_ids=event_ids)
        alert.state = AlertState.RESOLVED
        alert.message += f' -> resolved by {badge or "staff"}: avatar {avatar_id}'
        self._put_alert(db, alert)
        res.alerts.append(alert)

    def resolve_review(self, alert_id: str, avatar_id: int, badge: str, stamp: float | None = None) -> StoreResult:
        """Staff names the avatar (0 = nobody) of a review; the basket updates and the alert resolves.
        A handover review (HANDOVER_IN): the avatar named received the product, the other of the two gave it."""
        with self._tx() as db:
            row = db.execute('SELECT event_id, resolved FROM reviews WHERE alert_id=?', (alert_id,)).fetchone()
            if row is None:
                return StoreResult(ok=False, message=f'unknown review alert {alert_id!r}')
            if row[1]:
                return StoreResult(ok=False, message=f'review {alert_id!r} is already resolved')
            ev = _change_from_json(db.execute('SELECT body FROM events WHERE event_id=?', (row[0],)).fetchone()[0])
            t = ev.t if stamp is None else stamp
            res = StoreResult(message='resolved')
            self._close_review(db, alert_id, avatar_id, badge, t, res, [ev.shelf_event_id, ev.event_id])
            moves: list[tuple[int, int, str]] = [(0, 0, '')]   # nothing moves: announced, so listeners close it too
            if avatar_id and ev.cause not in (Cause.RESTOCK,):
                moves = [(avatar_id, ev.quantity, '')]
                if ev.cause == Cause.HANDOVER_IN:   # a handover: avatar_id received it, the other one gave it
                    giver = ev.avatar_id if avatar_id == ev.counterpart_avatar_id else ev.counterpart_avatar_id
                    moves = [(giver, -ev.quantity, ':out'), (avatar_id, ev.quantity, ':in')]
            for aid, qty, suffix in moves:
                ch = BasketChange(event_id=f'{ev.event_id}{RESOLVED_SUFFIX}{suffix}', t=t, avatar_id=aid,
                                  product_id=ev.product_id, quantity=qty, cause=Cause.REVIEW_RESOLVED,
                                  shelf_event_id=ev.shelf_event_id, confidence=1.0,
                                  candidate_avatar_ids=[aid] if aid else [], candidate_scores=[1.0] if aid else [])
                db.execute('INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
                           (ch.event_id, ch.t, ch.avatar_id, ch.product_id, ch.quantity, ch.cause, 0,
                            _change_to_json(ch)))
                res.changes.append(ch)
                if not aid:
                    continue
                moved = self._add_items(db, aid, ev.product_id, qty)
                if moved != qty:
                    res.message = f'resolved; basket of {aid} had fewer {ev.product_id} than removed'
                res.avatars.add(aid)
            for a in res.avatars:
                self._touch(db, a, t)
            if avatar_id:
                a = self._age_alert(db, avatar_id, t)
                if a:
                    res.alerts.append(a)
        return res

    def approve_age(self, avatar_id: int, approved: bool, badge: str, stamp: float | None = None) -> StoreResult:
        """Staff checked the shopper's age: approve, or remove the age-restricted products."""
        with self._tx() as db:
            if db.execute('SELECT 1 FROM baskets WHERE avatar_id=?', (avatar_id,)).fetchone() is None:
                return StoreResult(ok=False, message=f'no basket for avatar {avatar_id}')
            t = self.last_stamp if stamp is None else stamp
            res = StoreResult(message='approved' if approved else 'age-restricted products removed')
            if approved:
                db.execute('UPDATE baskets SET age_approved=1 WHERE avatar_id=?', (avatar_id,))
            else:
                for (p,) in db.execute('SELECT product_id FROM items WHERE avatar_id=?', (avatar_id,)).fetchall():
                    if self._product(p).age_restricted:
                        db.execute('DELETE FROM items WHERE avatar_id=? AND product_id=?', (avatar_id, p))
            self._touch(db, avatar_id, t)
            self._audit(db, t, 'age_check', avatar_id=avatar_id, approved=approved, badge=badge)
            for (aid,) in db.execute('SELECT alert_id FROM alerts WHERE kind=? AND state!=?',
                                     (AlertKind.AGE_CHECK, AlertState.RESOLVED)).fetchall():
                if aid == age_alert_id(avatar_id) or aid.startswith(age_alert_id(avatar_id) + ':'):
                    a = self._alert_row(db, aid)
                    assert a is not None
                    a.state = AlertState.RESOLVED
                    a.message += f' -> {"approved" if approved else "refused"} by {badge or "staff"}'
                    self._put_alert(db, a)
                    res.alerts.append(a)
            res.avatars.add(avatar_id)
        return res

    def observe_alert(self, a: AlertInfo) -> StoreResult:
        """Register an alert seen on /alerts (any producer). New or advanced state -> ok with the alert."""
        with self._tx() as db:
            old = self._alert_row(db, a.alert_id)
            if old is not None and a.state <= old.state:
                return StoreResult(ok=False, message='known')
            self._put_alert(db, a)
            res = StoreResult(alerts=[a])
            if a.kind == AlertKind.LEFT_WITHOUT_PAYING and a.state == AlertState.OPEN:
                for av in a.avatar_ids:
                    cur = db.execute('UPDATE baskets SET state=? WHERE avatar_id=? AND state=?',
                                     (BasketState.ABANDONED, av, BasketState.OPEN))
                    if cur.rowcount:
                        self._touch(db, av, a.stamp)
                        res.avatars.add(av)
        return res

    def update_alert(self, alert_id: str, state: int, badge: str, stamp: float | None = None) -> StoreResult:
        """Staff acknowledges or resolves an alert; the state only moves forward."""
        with self._tx() as db:
            a = self._alert_row(db, alert_id)
            if a is None:
                return StoreResult(ok=False, message=f'unknown alert {alert_id!r}')
            if state not in (AlertState.ACKNOWLEDGED, AlertState.RESOLVED):
                return StoreResult(ok=False, message=f'state {state} is not ACKNOWLEDGED (1) or RESOLVED (2)')
            if state <= a.state:
                return StoreResult(ok=False, message=f'alert {alert_id!r} is already in state {a.state}')
            if state == AlertState.RESOLVED and a.kind == AlertKind.REVIEW_NEEDED:
                return StoreResult(ok=False, message='a review is resolved through /baskets/resolve_review')
            if state == AlertState.RESOLVED and a.kind == AlertKind.AGE_CHECK:
                return StoreResult(ok=False, message='an age check is resolved through /baskets/approve_age_check')
            a.state = state
            self._put_alert(db, a)
            self._audit(db, self.last_stamp if stamp is None else stamp, 'update_alert', alert_id=alert_id,
                        state=state, badge=badge)
        return StoreResult(alerts=[a])

    def mark_paid(self, avatar_id: int, receipt_id: str, stamp: float) -> StoreResult:
        with self._tx() as db:
            cur = db.execute('UPDATE baskets SET state=?, receipt_id=? WHERE avatar_id=? AND state!=?',
                             (BasketState.PAID, receipt_id, avatar_id, BasketState.PAID))
            if not cur.rowcount:
                return StoreResult(ok=False, message='unknown avatar or already paid')
            self._touch(db, avatar_id, stamp)
        return StoreResult(avatars={avatar_id})

    # ------------------------------------------------------------------ reading
    def alert(self, alert_id: str) -> AlertInfo | None:
        with self._lock:
            return self._alert_row(self._db, alert_id)

    def alerts(self) -> list[AlertInfo]:
        with self._lock:
            return [self._alert_row(self._db, a) for (a,) in  # type: ignore[misc]
                    self._db.execute('SELECT alert_id FROM alerts ORDER BY alert_id').fetchall()]

    def pending_reviews(self) -> list[str]:
        with self._lock:
            return [a for (a,) in self._db.execute('SELECT alert_id FROM reviews WHERE resolved=0 ORDER BY alert_id')]

    def basket(self, avatar_id: int) -> BasketView | None:
        with self._lock:
            row = self._db.execute('SELECT state, age_approved, stamp, receipt_id FROM baskets WHERE avatar_id=?',
                                   (avatar_id,)).fetchone()
            if row is None:
                return None
            lines = []
            for p, q in self._db.execute('SELECT product_id, quantity FROM items WHERE avatar_id=? '
                                         'ORDER BY product_id', (avatar_id,)):
                prod = self._product(p)
                lines.append(ItemLine(p, prod.name, int(q), float(prod.price), round(q * prod.price, 2),
                                      bool(prod.age_restricted)))
            pending = self._db.execute('SELECT COUNT(*) FROM review_avatars WHERE avatar_id=?',
                                       (avatar_id,)).fetchone()[0]
            return BasketView(avatar_id=avatar_id, items=tuple(lines), total=round(sum(x.line_total for x in lines), 2),
                              currency=self.currency, state=int(row[0]), pending_reviews=int(pending),
                              age_check_required=any(x.age_restricted for x in lines), age_approved=bool(row[1]),
                              stamp=float(row[2]), receipt_id=str(row[3]))

    def baskets(self) -> list[BasketView]:
        with self._lock:
            ids = [a for (a,) in self._db.execute('SELECT avatar_id FROM baskets ORDER BY avatar_id')]
            return [b for b in (self.basket(a) for a in ids) if b is not None]
