"""association_node, basket_node and checkout_node with real rclpy: a visit from pick to receipt,
reviews, age checks, duplicate payment, left-without-paying, bad input, and a SIGKILLed basket node."""
from __future__ import annotations

import os
import random

os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(100, 230)))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'

import math  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

rclpy = pytest.importorskip('rclpy')
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rosutil import spin_until  # noqa: E402

from walkout_core.association.synthetic import lane_xy  # noqa: E402
from walkout_core.layout import load_layout  # noqa: E402
from walkout_msgs.msg import (Avatar, AvatarArray, BasketArray, BasketEvent, CardPresented,  # noqa: E402
                              Receipt, ShelfEvent, StoreAlert, TabletCart)
from walkout_msgs.srv import RequestPayment, ResolveReview, UpdateAlert  # noqa: E402
from walkout_nodes.association_node import AssociationNode  # noqa: E402
from walkout_nodes.basket_node import BasketNode  # noqa: E402
from walkout_nodes.checkout_node import CheckoutNode  # noqa: E402
from walkout_nodes.common import EVENT_QOS, LATCHED_QOS, sec_to_stamp  # noqa: E402

LAYOUT = load_layout('small')
T0 = 1_780_000_000.0
ZONE = 'checkout_1'


def params(**kw):
    return [Parameter(k, value=v) for k, v in kw.items()]


class Harness:
    """The three nodes plus a test node that publishes inputs and records every output."""

    def __init__(self, tmp_path, **checkout_kw):
        self.ex = SingleThreadedExecutor()
        self.assoc = AssociationNode(parameter_overrides=params(layout='small', idle_flush_s=0.0))
        self.basket = BasketNode(parameter_overrides=params(layout='small', db_path=str(tmp_path / 'b.sqlite')))
        ck = dict(layout='small', db_path=str(tmp_path / 'r.sqlite'), payment_trigger='dwell',
                  simulated_dwell_to_pay_s=0.5,
                  simulated_staff_age_check_s=0.2, left_check_delay_s=1.0)
        ck.update(checkout_kw)
        self.checkout = CheckoutNode(parameter_overrides=params(**ck))
        self.node = rclpy.create_node('basket_nodes_test')
        self.got: dict[str, list] = {k: [] for k in ('events', 'state', 'alerts', 'receipts', 'tablet')}
        n = self.node
        n.create_subscription(BasketEvent, '/baskets/events', self.got['events'].append, EVENT_QOS)
        n.create_subscription(BasketArray, '/baskets/state', self.got['state'].append, LATCHED_QOS)
        n.create_subscription(StoreAlert, '/alerts', self.got['alerts'].append, EVENT_QOS)
        n.create_subscription(Receipt, '/checkout/receipts', self.got['receipts'].append, EVENT_QOS)
        n.create_subscription(TabletCart, f'/checkout/{ZONE}/tablet', self.got['tablet'].append, LATCHED_QOS)
        self.pub_av = n.create_publisher(AvatarArray, '/tracking/avatars', EVENT_QOS)
        self.pub_ev = n.create_publisher(ShelfEvent, '/shelves/events', EVENT_QOS)
        for x in (self.assoc, self.basket, self.checkout, self.node):
            self.ex.add_node(x)
        self.spin_until(lambda: self.pub_av.get_subscription_count() >= 2 and self.pub_ev.get_subscription_count() >= 1)

    def close(self):
        for x in (self.assoc, self.basket, self.checkout, self.node):
            self.ex.remove_node(x)
            x.destroy_node()
        self.ex.shutdown()

    def spin_until(self, cond, timeout=10.0):
        return spin_until(self.ex, cond, timeout)

    def frame(self, t, avatars):
        m = AvatarArray()
        m.header.stamp = sec_to_stamp(T0 + t)
        m.header.frame_id = 'map'
        m.avatars = avatars
        self.pub_av.publish(m)
        for _ in range(3):
            self.ex.spin_once(timeout_sec=0.005)

    def shelf_event(self, eid, t, shelf, lane, quantity=1, product=None):
        m = ShelfEvent()
        m.header.stamp = sec_to_stamp(T0 + t)
        m.event_id, m.shelf_id, m.lane, m.quantity = eid, shelf, lane, quantity
        m.planogram_product_id = LAYOUT.shelf(shelf).lanes[lane].product_id
        m.product_id = product or m.planogram_product_id
        x, y = lane_xy(LAYOUT, shelf, lane)
        m.lane_position.x, m.lane_position.y, m.lane_position.z = x, y, 1.0
        m.confidence = 1.0
        m.settled_stamp = sec_to_stamp(T0 + t + 0.5)
        m.decided_stamp = sec_to_stamp(T0 + t + 1.0)
        self.pub_ev.publish(m)

    def call(self, srv_type, name, req):
        cli = self.node.create_client(srv_type, name)
        assert self.spin_until(cli.service_is_ready)
        fut = cli.call_async(req)
        assert self.spin_until(fut.done)
        self.node.destroy_client(cli)
        return fut.result()

    def last_basket(self, avatar_id):
        for arr in reversed(self.got['state']):
            for b in arr.baskets:
                if b.avatar_id == avatar_id:
                    return b
        return None


def avatar(aid, x, y, reach=None, zone='', state=Avatar.STATE_SHOPPING, staff=False):
    a = Avatar()
    a.id, a.state, a.is_staff, a.checkout_zone_id = aid, state, staff, zone
    a.track_status = Avatar.TRACK_CONFIRMED
    a.position.x, a.position.y = float(x), float(y)
    a.position_covariance = [0.0025, 0.0, 0.0, 0.0025]
    if reach is not None:
        a.has_reach = True
        a.reach_point.x, a.reach_point.y = reach
    return a


def front(shelf, lane):
    x, y = lane_xy(LAYOUT, shelf, lane)
    return (x, y + 0.05) if LAYOUT.shelf(shelf).front_normal[1] < 0 else (x, y - 0.05)


def visit(h, aid, shelf, lane, t_pick, t_end, checkout_from=None, exit_from=None, extra=lambda t: []):
    """Stream an avatar that reaches a lane at ``t_pick`` and then goes to the checkout / the exit."""
    sx, _ = lane_xy(LAYOUT, shelf, lane)
    t = 0.0
    while t <= t_end + 1e-9:
        if checkout_from is not None and t >= checkout_from:
            a = avatar(aid, 4.5, 1.0, zone=ZONE, state=Avatar.STATE_AT_CHECKOUT)
        elif exit_from is not None and t >= exit_from:
            a = avatar(aid, 6.8, 0.2, state=Avatar.STATE_EXITED)
        else:
            reach = front(shelf, lane) if abs(t - t_pick) <= 0.5 else None
            a = avatar(aid, sx, 5.0, reach)
        h.frame(t, [a] + extra(t))
        if abs(t - (t_pick + 1.0)) < 1e-6:
            h.shelf_event(f'ev-{aid}-{t_pick}', t_pick, shelf, lane)
        t = round(t + 0.1, 6)


@pytest.fixture(scope='module', autouse=True)
def ros():
    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.fixture
def h(tmp_path):
    harness = Harness(tmp_path)
    yield harness
    harness.close()


def test_pick_to_receipt(h):
    visit(h, 1, 'S1', 0, t_pick=2.0, t_end=8.0, checkout_from=5.0)
    assert h.spin_until(lambda: h.got['receipts'])
    ev = [e for e in h.got['events'] if e.avatar_id == 1]
    assert ev and ev[0].cause == BasketEvent.CAUSE_PICK and ev[0].product_id == 'p001' and not ev[0].needs_review
    r = h.got['receipts'][0]
    assert r.avatar_id == 1 and r.checkout_zone_id == ZONE and r.total == pytest.approx(0.77)
    assert r.payment_method == Receipt.PAYMENT_CONTACTLESS and r.qr_payload.startswith('walkout:receipt:')
    # paid at the stamp the dwell ran out: 5.0 s + 0.5 s
    assert (r.header.stamp.sec + r.header.stamp.nanosec * 1e-9) - T0 == pytest.approx(5.5, abs=0.11)
    assert h.spin_until(lambda: h.last_basket(1) is not None and h.last_basket(1).state == 1)
    assert any(tc.occupied and tc.basket.avatar_id == 1 and tc.payment_allowed for tc in h.got['tablet'])
    assert h.spin_until(lambda: h.got['tablet'][-1].blocked_reason == 'paid')
    # a repeated payment request gives the same single receipt
    resp = h.call(RequestPayment, '/checkout/request_payment',
                  RequestPayment.Request(request_id='tablet-1', checkout_zone_id=ZONE, avatar_id=1))
    assert resp.status == RequestPayment.Response.STATUS_PAID and resp.receipt.receipt_id == r.receipt_id
    h.spin_until(lambda: False, timeout=0.3)
    assert len(h.got['receipts']) == 1


def test_card_presented_at_the_terminal_pays_the_cart_in_that_zone(tmp_path):
    # payment_trigger card (the store's and the simulator's): standing in the zone pays nothing; the card
    # presented at 6.5 s pays avatar 1's cart, stamped when the avatar stream reaches the card
    h = Harness(tmp_path, payment_trigger='card')
    try:
        pub = h.node.create_publisher(CardPresented, '/checkout/card_presented', EVENT_QOS)
        assert h.spin_until(lambda: pub.get_subscription_count() >= 1)
        before_card = []

        def card(t):
            if abs(t - 6.5) < 1e-6:
                h.spin_until(lambda: False, timeout=0.3)
                before_card.extend(h.got['receipts'])   # 1.5 s in the zone (dwell would have paid at 0.5 s)
                m = CardPresented()
                m.header.stamp, m.header.frame_id, m.checkout_zone_id = sec_to_stamp(T0 + t), 'map', ZONE
                pub.publish(m)
            return []
        visit(h, 1, 'S1', 0, t_pick=2.0, t_end=8.0, checkout_from=5.0, extra=card)
        assert before_card == []
        assert h.spin_until(lambda: h.got['receipts'])
        r = h.got['receipts'][0]
        assert r.avatar_id == 1 and r.checkout_zone_id == ZONE and r.total == pytest.approx(0.77)
        assert (r.header.stamp.sec + r.header.stamp.nanosec * 1e-9) - T0 == pytest.approx(6.5, abs=0.11)
    finally:
        h.close()


def test_alcohol_needs_the_age_check_before_payment(h):
    visit(h, 2, 'S2', 0, t_pick=2.0, t_end=8.0, checkout_from=5.0)
    assert h.spin_until(lambda: h.got['receipts'])
    kinds = [(a.kind, a.state) for a in h.got['alerts'] if a.alert_id == 'age:2']
    assert (StoreAlert.KIND_AGE_CHECK, StoreAlert.STATE_OPEN) in kinds
    assert (StoreAlert.KIND_AGE_CHECK, StoreAlert.STATE_RESOLVED) in kinds
    assert any(tc.occupied and not tc.payment_allowed and 'age' in tc.blocked_reason for tc in h.got['tablet'])
    assert h.got['receipts'][0].total == pytest.approx(1.92)


def test_nobody_near_goes_to_review_and_staff_resolve_it(h):
    # avatar 3 is far from S3 when its lane changes; staff then say avatar 3 took it
    t = 0.0
    while t <= 5.0:
        h.frame(t, [avatar(3, 1.0, 1.5)])
        if abs(t - 2.0) < 1e-6:
            h.shelf_event('ghost', 1.0, 'S3', 1)
        t = round(t + 0.1, 6)
    assert h.spin_until(lambda: any(a.kind == StoreAlert.KIND_REVIEW_NEEDED for a in h.got['alerts']))
    alert = next(a for a in h.got['alerts'] if a.kind == StoreAlert.KIND_REVIEW_NEEDED)
    assert alert.shelf_id == 'S3' and alert.lane == 1 and alert.evidence_json.startswith('{')
    ev = next(e for e in h.got['events'] if e.shelf_event_id == 'ghost')
    assert ev.needs_review and ev.cause == BasketEvent.CAUSE_UNASSIGNED
    bad = h.call(UpdateAlert, '/alerts/update', UpdateAlert.Request(alert_id=alert.alert_id, state=2))
    assert not bad.success and 'resolve_review' in bad.message
    ok = h.call(UpdateAlert, '/alerts/update', UpdateAlert.Request(alert_id=alert.alert_id, state=1))
    assert ok.success
    res = h.call(ResolveReview, '/baskets/resolve_review',
                 ResolveReview.Request(alert_id=alert.alert_id, avatar_id=3, staff_badge='b-1'))
    assert res.success
    assert h.spin_until(lambda: h.last_basket(3) is not None and len(h.last_basket(3).items) == 1)
    assert h.last_basket(3).items[0].product_id == LAYOUT.shelf('S3').lanes[1].product_id
    assert h.spin_until(lambda: any(e.cause == BasketEvent.CAUSE_REVIEW_RESOLVED for e in h.got['events']))
    again = h.call(ResolveReview, '/baskets/resolve_review',
                   ResolveReview.Request(alert_id=alert.alert_id, avatar_id=3, staff_badge='b-1'))
    assert not again.success


def test_left_without_paying(h):
    visit(h, 4, 'S1', 1, t_pick=2.0, t_end=9.0, exit_from=5.0)
    assert h.spin_until(lambda: any(a.kind == StoreAlert.KIND_LEFT_WITHOUT_PAYING for a in h.got['alerts']))
    a = next(a for a in h.got['alerts'] if a.kind == StoreAlert.KIND_LEFT_WITHOUT_PAYING)
    assert list(a.avatar_ids) == [4] and list(a.product_ids) == ['p007']
    assert h.spin_until(lambda: h.last_basket(4) is not None and h.last_basket(4).state == 2)
    assert not h.got['receipts']


def test_bad_input_is_counted_not_fatal(h):
    h.frame(1.0, [avatar(5, math.nan, 1.0)])
    h.frame(0.5, [avatar(5, 1.0, 1.0)])                  # out of order
    m = ShelfEvent()
    m.event_id, m.shelf_id, m.lane, m.quantity = 'bad', 'NOPE', 9, 1
    m.lane_position.x = math.nan
    h.pub_ev.publish(m)
    h.spin_until(lambda: h.assoc.diag.counters['shelf_event_malformed'] >= 1, timeout=3.0)
    assert h.assoc.diag.counters['avatar_malformed'] == 1
    assert h.assoc.diag.counters['avatars_out_of_order'] == 1
    assert h.assoc.diag.counters['shelf_event_malformed'] == 1
    visit(h, 6, 'S1', 2, t_pick=3.0, t_end=7.0)         # still working
    assert h.spin_until(lambda: any(e.avatar_id == 6 for e in h.got['events']))


KILLED_NODE = '''
import sys
from walkout_nodes.basket_node import main
main(['--ros-args', '-r', '__node:=basket_node_killed', '-p', 'layout:=small', '-p', 'db_path:=' + sys.argv[1]])
'''


def _start_basket_node(db):
    return subprocess.Popen([sys.executable, '-c', KILLED_NODE, str(db)], env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_basket_node_killed_mid_visit_resumes_every_basket(tmp_path):
    db = tmp_path / 'killed.sqlite'
    node = rclpy.create_node('kill_test')
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    states: list[BasketArray] = []
    node.create_subscription(BasketArray, '/baskets/state', states.append, LATCHED_QOS)
    pub = node.create_publisher(BasketEvent, '/baskets/events', EVENT_QOS)

    def content(arr):
        return {(b.avatar_id, i.product_id, i.quantity) for b in arr.baskets for i in b.items}

    proc = _start_basket_node(db)
    try:
        assert spin_until(ex, lambda: pub.get_subscription_count() >= 1, 20.0, 0.05)
        products = ['p001', 'p007', 'p013', 'p019', 'p103']
        expected: dict = {}
        for k in range(30):
            e = BasketEvent()
            e.header.stamp = sec_to_stamp(T0 + k)
            e.event_id, e.avatar_id, e.product_id, e.quantity = f'k{k}', 1 + k % 3, products[k % 5], 1
            e.cause, e.confidence = BasketEvent.CAUSE_PICK, 1.0
            pub.publish(e)
            key = (e.avatar_id, e.product_id)
            expected[key] = expected.get(key, 0) + 1
        want = {(a, p, q) for (a, p), q in expected.items()}
        assert spin_until(ex, lambda: states and content(states[-1]) == want, 20.0, 0.05)
        proc.send_signal(signal.SIGKILL)         # mid-visit: baskets open, nobody has paid
        assert proc.wait(timeout=10) == -signal.SIGKILL
        states.clear()
        proc = _start_basket_node(db)
        # the restarted node publishes the resumed state (latched) without any new input
        assert spin_until(ex, lambda: states and content(states[-1]) == want, 20.0, 0.05)
        assert all(b.state == 0 for b in states[-1].baskets)
        # a re-delivered event is not applied twice; a new one is
        e = BasketEvent()
        e.header.stamp = sec_to_stamp(T0 + 100)
        e.event_id, e.avatar_id, e.product_id, e.quantity, e.cause = 'k0', 1, 'p001', 1, BasketEvent.CAUSE_PICK
        pub.publish(e)
        e2 = BasketEvent()
        e2.header.stamp = sec_to_stamp(T0 + 101)
        e2.event_id, e2.avatar_id, e2.product_id, e2.quantity, e2.cause = 'new', 9, 'p001', 2, BasketEvent.CAUSE_PICK
        pub.publish(e2)
        assert spin_until(ex, lambda: states and content(states[-1]) == want | {(9, 'p001', 2)}, 20.0, 0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        ex.remove_node(node)
        node.destroy_node()
        ex.shutdown()
