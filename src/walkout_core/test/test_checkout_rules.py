"""Checkout rules: contactless limit, PIN, blocked payments, one receipt per avatar, QR payload."""
from __future__ import annotations

import dataclasses

import pytest

from walkout_core.basket import BasketChange, BasketStore, Cause
from walkout_core.basket.model import BasketState
from walkout_core.checkout import (Checkout, PaymentStatus, ReceiptStore, SimulatedTerminal,
                                   should_alert_left_without_paying, verify_qr)
from walkout_core.checkout.terminal import PAYMENT_CHIP_AND_PIN, PAYMENT_CONTACTLESS
from walkout_core.layout import Product, load_layout

LAYOUT = load_layout('small')
KEY = 'test-key'


def catalogue_with(price: float) -> dict:
    cat = dict(LAYOUT.catalogue)
    cat['x'] = Product('x', 'test item', 100.0, 5.0, price)
    cat['beer'] = Product('beer', 'beer', 330.0, 5.0, 1.0, age_restricted=True)
    return cat


@pytest.fixture
def env(tmp_path):
    def make(price: float):
        baskets = BasketStore(tmp_path / f'b{price}.sqlite', catalogue_with(price))
        receipts = ReceiptStore(tmp_path / f'r{price}.sqlite')
        co = Checkout(SimulatedTerminal(LAYOUT.contactless_limit), receipts, KEY)
        return baskets, receipts, co
    return make


def add(baskets, avatar, product, q=1, eid=None):
    baskets.apply_change(BasketChange(eid or f'{avatar}-{product}-{q}', 1.0, avatar, product, q, Cause.PICK))


@pytest.mark.parametrize('price,pin_needed', [(49.99, False), (50.00, False), (50.01, True)])
def test_contactless_limit_is_inclusive(env, price, pin_needed):
    baskets, _, co = env(price)
    add(baskets, 1, 'x')
    out = co.request_payment('r1', 'checkout_1', 1, '', baskets.basket(1), 10.0)
    if not pin_needed:
        assert out.status == PaymentStatus.PAID and out.new_receipt
        assert out.receipt.payment_method == PAYMENT_CONTACTLESS and not out.receipt.pin_used
        assert out.receipt.total == pytest.approx(price)
    else:
        assert out.status == PaymentStatus.PIN_REQUIRED and out.receipt is None
        out = co.request_payment('r2', 'checkout_1', 1, '1234', baskets.basket(1), 11.0)
        assert out.status == PaymentStatus.PAID
        assert out.receipt.payment_method == PAYMENT_CHIP_AND_PIN and out.receipt.pin_used


def test_many_cheap_items_sum_in_cents(env):
    baskets, _, co = env(0.1)
    add(baskets, 1, 'x', 500)            # 500 x 0.10 = 50.00 exactly, floats notwithstanding
    assert co.request_payment('r', 'z', 1, '', baskets.basket(1), 1.0).status == PaymentStatus.PAID


def test_pending_age_check_blocks_until_approved(env):
    baskets, _, co = env(2.0)
    add(baskets, 1, 'beer')
    out = co.request_payment('r1', 'z', 1, '', baskets.basket(1), 1.0)
    assert out.status == PaymentStatus.BLOCKED and 'age' in out.message
    baskets.approve_age(1, True, 'staff-1')
    out = co.request_payment('r1', 'z', 1, '', baskets.basket(1), 2.0)   # the same request id, retried
    assert out.status == PaymentStatus.PAID


def test_pending_review_blocks(env):
    baskets, _, co = env(2.0)
    add(baskets, 1, 'x')
    baskets.apply_change(BasketChange('rv', 1.0, 1, 'x', 1, Cause.PICK, needs_review=True,
                                      candidate_avatar_ids=[1, 2], candidate_scores=[0.5, 0.5]))
    out = co.request_payment('r1', 'z', 1, '', baskets.basket(1), 1.0)
    assert out.status == PaymentStatus.BLOCKED and 'review' in out.message


def test_duplicate_request_gives_the_same_single_receipt(env):
    baskets, receipts, co = env(3.0)
    add(baskets, 1, 'x', 2)
    first = co.request_payment('req-1', 'checkout_1', 1, '', baskets.basket(1), 10.0)
    again = co.request_payment('req-1', 'checkout_1', 1, '', baskets.basket(1), 11.0)
    other = co.request_payment('req-2', 'checkout_2', 1, '', baskets.basket(1), 12.0)
    assert first.status == again.status == other.status == PaymentStatus.PAID
    assert first.receipt == again.receipt == other.receipt
    assert first.new_receipt and not again.new_receipt and not other.new_receipt
    assert len(receipts.all()) == 1


def test_receipt_survives_a_new_process_and_stays_single(env, tmp_path):
    baskets, receipts, co = env(3.0)
    add(baskets, 1, 'x')
    r = co.request_payment('a', 'z', 1, '', baskets.basket(1), 1.0).receipt
    receipts.close()
    again = Checkout(SimulatedTerminal(50.0), ReceiptStore(tmp_path / 'r3.0.sqlite'), KEY)
    assert again.request_payment('b', 'z', 1, '', baskets.basket(1), 2.0).receipt == r


def test_empty_unknown_and_declined(env):
    baskets, _, co = env(60.0)
    assert co.request_payment('r', 'z', 5, '', None, 1.0).status == PaymentStatus.UNKNOWN_AVATAR
    add(baskets, 1, 'x')
    add(baskets, 1, 'x', -1, eid='back')
    assert co.request_payment('r', 'z', 1, '', baskets.basket(1), 1.0).status == PaymentStatus.EMPTY
    add(baskets, 2, 'x')
    assert co.request_payment('r2', 'z', 2, '0000', baskets.basket(2), 1.0).status == PaymentStatus.DECLINED


def test_qr_payload_identifies_the_receipt_without_personal_data(env):
    baskets, _, co = env(3.0)
    add(baskets, 1, 'x')
    r = co.request_payment('a', 'checkout_1', 1, '', baskets.basket(1), 1.0).receipt
    assert r.qr_payload.startswith(f'walkout:receipt:{r.receipt_id}:3.00:')
    assert verify_qr(KEY, r.qr_payload) == r.receipt_id
    assert verify_qr('other-key', r.qr_payload) is None
    assert verify_qr(KEY, r.qr_payload.replace(':3.00:', ':0.01:')) is None


def test_left_without_paying_rule(env):
    baskets, _, _ = env(3.0)
    add(baskets, 1, 'x')
    b = baskets.basket(1)
    assert should_alert_left_without_paying(b, is_staff=False, has_receipt=False)
    assert not should_alert_left_without_paying(b, is_staff=True, has_receipt=False)
    assert not should_alert_left_without_paying(b, is_staff=False, has_receipt=True)
    assert not should_alert_left_without_paying(dataclasses.replace(b, state=BasketState.PAID), False, False)
    assert not should_alert_left_without_paying(dataclasses.replace(b, items=()), False, False)
    assert not should_alert_left_without_paying(None, False, False)
