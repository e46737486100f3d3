"""Checkout rules: who may pay, how, and exactly one receipt per avatar; left-without-paying."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from walkout_core.basket.model import BasketState
from walkout_core.basket.store import BasketView, ItemLine

from .receipts import ReceiptRecord, ReceiptStore, qr_payload
from .terminal import PaymentTerminal

__all__ = ['PaymentStatus', 'PaymentOutcome', 'Checkout', 'should_alert_left_without_paying', 'unpaid_after_receipt',
           'unit_counts']


class PaymentStatus:
    """``RequestPayment.Response.STATUS_*``."""
    PAID = 0
    PIN_REQUIRED = 1
    BLOCKED = 2
    DECLINED = 3
    EMPTY = 4
    UNKNOWN_AVATAR = 5


@dataclass(frozen=True)
class PaymentOutcome:
    status: int
    message: str
    receipt: ReceiptRecord | None = None
    new_receipt: bool = False          # True only the first time the receipt is made (publish it then)


class Checkout:
    def __init__(self, terminal: PaymentTerminal, receipts: ReceiptStore, qr_key: str):
        self.terminal = terminal
        self.receipts = receipts
        self.qr_key = qr_key

    def request_payment(self, request_id: str, zone_id: str, avatar_id: int, pin: str,
                        basket: BasketView | None, stamp: float) -> PaymentOutcome:
        """Charge an avatar's basket. A repeated request id, or any request for an avatar that has
        paid already, returns the same single receipt."""
        if request_id:
            r = self.receipts.by_request(request_id)
            if r is not None:
                return PaymentOutcome(PaymentStatus.PAID, 'already paid (same request)', r)
        r = self.receipts.by_avatar(avatar_id)
        if r is not None:
            if request_id:
                self.receipts.remember_request(request_id, r.receipt_id)
            return PaymentOutcome(PaymentStatus.PAID, 'already paid', r)
        if basket is None:
            return PaymentOutcome(PaymentStatus.UNKNOWN_AVATAR, f'no basket for avatar {avatar_id}')
        if basket.state == BasketState.PAID:
            return PaymentOutcome(PaymentStatus.BLOCKED, 'basket marked paid but its receipt is unknown here')
        if basket.is_empty:
            return PaymentOutcome(PaymentStatus.EMPTY, 'nothing to pay')
        if basket.blocked_reason:
            return PaymentOutcome(PaymentStatus.BLOCKED, basket.blocked_reason)
        res = self.terminal.charge(basket.total, basket.currency, pin)
        if res.pin_required:
            return PaymentOutcome(PaymentStatus.PIN_REQUIRED, res.message)
        if not res.approved:
            return PaymentOutcome(PaymentStatus.DECLINED, res.message)
        rid = f'{zone_id or "zone"}-{avatar_id}-{int(round(stamp * 1000))}'
        rec = ReceiptRecord(receipt_id=rid, avatar_id=avatar_id, checkout_zone_id=zone_id, items=basket.items,
                            total=basket.total, currency=basket.currency, payment_method=res.method,
                            pin_used=res.pin_used, qr_payload=qr_payload(self.qr_key, rid, basket.total),
                            stamp=stamp, request_id=request_id)
        kept = self.receipts.add(rec)
        return PaymentOutcome(PaymentStatus.PAID, res.message, kept, new_receipt=kept.receipt_id == rid)


def should_alert_left_without_paying(basket: BasketView | None, is_staff: bool, has_receipt: bool) -> bool:
    """An avatar that exits with an unpaid non-empty basket (staff never)."""
    return (basket is not None and not is_staff and not has_receipt and not basket.is_empty
            and basket.state == BasketState.OPEN)


def unit_counts(lines: Iterable[ItemLine]) -> dict[str, int]:
    """Product -> units over item lines (of a basket or a receipt)."""
    out: dict[str, int] = {}
    for line in lines:
        out[line.product_id] = out.get(line.product_id, 0) + int(line.quantity)
    return out


def unpaid_after_receipt(basket: BasketView | None, paid: Mapping[str, int] | None) -> dict[str, int]:
    """Product -> units in the basket beyond what its receipt charged (taken after paying); {} if none,
    or if there is no basket or no receipt."""
    if basket is None or paid is None:
        return {}
    have = unit_counts(basket.items)
    return {pid: n - int(paid.get(pid, 0)) for pid, n in sorted(have.items()) if n > int(paid.get(pid, 0))}
