"""checkout_node: tablets, payment (terminal interface; simulated terminal), receipts, left-without-paying.

Subscribes ``/tracking/avatars`` and ``/baskets/state``; publishes each zone's tablet
(``/checkout/<zone>/tablet``, latched) with the cart of the avatar standing in it, ``/checkout/receipts``
and LEFT_WITHOUT_PAYING alerts on ``/alerts``; serves ``/checkout/request_payment``. With
``terminal: simulated`` the card is presented by itself once an avatar has stood
``simulated_dwell_to_pay_s`` in a zone, and ``simulated_staff_age_check_s`` > 0 makes a simulated
staff member approve a pending age check. All times are avatar-stream stamps.
"""
from __future__ import annotations

from dataclasses import dataclass

from rclpy.node import Node

from walkout_core.basket.model import AlertInfo, AlertKind, left_alert_id
from walkout_core.basket.store import BasketView
from walkout_core.checkout import (Checkout, PaymentOutcome, PaymentStatus, ReceiptStore, SimulatedTerminal,
                                   should_alert_left_without_paying)
from walkout_core.checkout.config import CheckoutConfig
from walkout_core.layout import load_layout
from walkout_msgs.msg import Avatar, AvatarArray, BasketArray, Receipt, StoreAlert, TabletCart
from walkout_msgs.srv import ApproveAgeCheck, RequestPayment

from .basket_convert import (alert_to_msg, basket_from_msg, basket_to_msg, param_update_callback,
                             receipt_to_msg)
from .common import run, EVENT_QOS, LATCHED_QOS, Diagnostics, declare_config, sec_to_stamp, stamp_to_sec

__all__ = ['CheckoutNode', 'NODE_CLASS', 'main']

SIM_BADGE = 'simulated-staff'


@dataclass
class _Visit:
    zone: str = ''
    entered_t: float = 0.0          # [s] stamp the avatar entered its current zone
    last_attempt_t: float = -1e18   # [s] last simulated payment attempt
    age_requested: bool = False
    exited_t: float | None = None
    is_staff: bool = False
    position: tuple[float, float] = (0.0, 0.0)


class CheckoutNode(Node):
    def __init__(self, node_name: str = 'checkout_node', **kwargs):
        super().__init__(node_name, **kwargs)
        self.cfg: CheckoutConfig = declare_config(self, CheckoutConfig)
        self.layout = load_layout(self.cfg.layout)
        self.terminal = SimulatedTerminal(self.layout.contactless_limit, self.cfg.simulated_decline_pin)
        self.receipts = ReceiptStore(self.cfg.db_path)
        self.checkout = Checkout(self.terminal, self.receipts, self.cfg.receipt_qr_key)
        self.diag = Diagnostics(self, 'checkout')
        self.baskets: dict[int, BasketView] = {}
        self.visits: dict[int, _Visit] = {}
        self.left_alerted: set[int] = set()
        self.paid: set[int] = set()
        self.t = 0.0
        self._tablet_shown: dict[str, tuple] = {}
        self._tablets = {z.id: self.create_publisher(TabletCart, z.tablet_topic, LATCHED_QOS)
                         for z in self.layout.checkout_zones}
        self._pub_receipts = self.create_publisher(Receipt, '/checkout/receipts', EVENT_QOS)
        self._pub_alerts = self.create_publisher(StoreAlert, '/alerts', EVENT_QOS)
        self.create_subscription(AvatarArray, '/tracking/avatars', self._on_avatars, EVENT_QOS)
        self.create_subscription(BasketArray, '/baskets/state', self._on_baskets, LATCHED_QOS)
        self.create_service(RequestPayment, '/checkout/request_payment', self._srv_pay)
        self._age_client = self.create_client(ApproveAgeCheck, '/baskets/approve_age_check')
        self.add_on_set_parameters_callback(param_update_callback(
            self, CheckoutConfig, lambda: self.cfg, self._apply_cfg, fixed=('layout', 'db_path', 'terminal')))
        for z in self.layout.checkout_zones:
            self._show_tablet(z.id, None)

    def _apply_cfg(self, cfg: CheckoutConfig) -> None:
        self.cfg = cfg
        self.terminal.decline_pin = cfg.simulated_decline_pin
        self.checkout.qr_key = cfg.receipt_qr_key

    def destroy_node(self) -> None:
        self.receipts.close()
        super().destroy_node()

    # ------------------------------------------------------------------ inputs
    def _on_baskets(self, msg: BasketArray) -> None:
        self.baskets = {int(b.avatar_id): basket_from_msg(b) for b in msg.baskets}
        self._refresh_tablets()

    def _zone_of(self, a: Avatar) -> str:
        if a.checkout_zone_id:
            return str(a.checkout_zone_id)
        if a.state == Avatar.STATE_AT_CHECKOUT:
            z = self.layout.checkout_zone_at((a.position.x, a.position.y))
            return z.id if z else ''
        return ''

    def _on_avatars(self, msg: AvatarArray) -> None:
        t = stamp_to_sec(msg.header.stamp)
        if t < self.t:
            self.diag.problem('avatars_out_of_order', f'avatar array stamped {t:.3f} s is older than {self.t:.3f} s')
            return
        self.t = t
        for a in msg.avatars:
            v = self.visits.setdefault(int(a.id), _Visit())
            v.is_staff = bool(a.is_staff)
            v.position = (float(a.position.x), float(a.position.y))
            zone = '' if a.state == Avatar.STATE_EXITED else self._zone_of(a)
            if zone not in self._tablets:
                if zone:
                    self.diag.problem('unknown_zone', f'avatar {a.id} in unknown checkout zone {zone!r}')
                zone = ''
            if zone != v.zone:
                v.zone, v.entered_t = zone, t
            if a.state == Avatar.STATE_EXITED and v.exited_t is None:
                v.exited_t = t
        self._simulate(t)
        self._check_left(t)
        for aid in [k for k in self.left_alerted if k in self.visits]:
            del self.visits[aid]               # exited and checked: the tracker never reuses an id
        self._refresh_tablets()

    # ------------------------------------------------------------------ simulated terminal and staff
    def _simulate(self, t: float) -> None:
        if self.cfg.terminal != 'simulated':
            return
        for aid, v in self.visits.items():
            if not v.zone or v.is_staff or v.exited_t is not None:
                continue
            b = self.baskets.get(aid)
            if b is None or b.is_empty or self._has_receipt(aid):
                continue
            dwell = t - v.entered_t
            age_s = self.cfg.simulated_staff_age_check_s or (
                self.cfg.replay_staff_age_check_s if self.cfg.reliable_sensors else 0.0)
            if (age_s > 0 and dwell >= age_s
                    and b.age_check_required and not b.age_approved and not v.age_requested):
                v.age_requested = self._request_age_approval(aid)
            if dwell >= self.cfg.simulated_dwell_to_pay_s and t - v.last_attempt_t >= self.cfg.payment_retry_s:
                v.last_attempt_t = t
                pin = self.cfg.simulated_pin if self.terminal.needs_pin(b.total) else ''
                out = self._pay(f'sim:{aid}', v.zone, aid, pin, t)
                if out.status != PaymentStatus.PAID:
                    self.diag.count(f'sim_payment_status_{out.status}')

    def _has_receipt(self, avatar_id: int) -> bool:
        if avatar_id in self.paid:
            return True
        if self.receipts.by_avatar(avatar_id) is not None:
            self.paid.add(avatar_id)
            return True
        return False

    def _request_age_approval(self, avatar_id: int) -> bool:
        if not self._age_client.service_is_ready():
            self.diag.problem('age_service_missing', '/baskets/approve_age_check is not available')
            return False
        self._age_client.call_async(ApproveAgeCheck.Request(avatar_id=avatar_id, approved=True, staff_badge=SIM_BADGE))
        self.diag.count('simulated_age_checks')
        return True

    def _check_left(self, t: float) -> None:
        for aid, v in self.visits.items():
            if v.exited_t is None or aid in self.left_alerted or t - v.exited_t < self.cfg.left_check_delay_s:
                continue
            self.left_alerted.add(aid)
            b = self.baskets.get(aid)
            if should_alert_left_without_paying(b, v.is_staff, self._has_receipt(aid)):
                assert b is not None
                a = AlertInfo(alert_id=left_alert_id(aid), kind=AlertKind.LEFT_WITHOUT_PAYING,
                              message=f'avatar {aid} left with an unpaid basket of {b.total:.2f} {b.currency}',
                              location=(v.position[0], v.position[1], 0.0),
                              product_ids=[i.product_id for i in b.items], avatar_ids=[aid], avatar_scores=[1.0],
                              stamp=v.exited_t, evidence_start=v.exited_t, evidence_end=t)
                self._pub_alerts.publish(alert_to_msg(a))
                self.diag.count('left_without_paying')

    # ------------------------------------------------------------------ payment
    def _pay(self, request_id: str, zone: str, avatar_id: int, pin: str, t: float) -> PaymentOutcome:
        out = self.checkout.request_payment(request_id, zone, avatar_id, pin, self.baskets.get(avatar_id), t)
        if out.new_receipt and out.receipt is not None:
            self._pub_receipts.publish(receipt_to_msg(out.receipt))
            self.diag.count('receipts')
            self._refresh_tablets(force=True)
        return out

    def _srv_pay(self, req: RequestPayment.Request, resp: RequestPayment.Response) -> RequestPayment.Response:
        out = self._pay(req.request_id, req.checkout_zone_id, int(req.avatar_id), req.pin, self.t)
        resp.status, resp.message = int(out.status), out.message
        if out.receipt is not None:
            resp.receipt = receipt_to_msg(out.receipt)
        return resp

    # ------------------------------------------------------------------ tablets
    def _occupant(self, zone: str) -> int | None:
        here = [(v.entered_t, aid) for aid, v in self.visits.items()
                if v.zone == zone and not v.is_staff and v.exited_t is None]
        return min(here)[1] if here else None

    def _refresh_tablets(self, force: bool = False) -> None:
        for zone in self._tablets:
            self._show_tablet(zone, self._occupant(zone), force)

    def _show_tablet(self, zone: str, avatar_id: int | None, force: bool = False) -> None:
        b = self.baskets.get(avatar_id) if avatar_id is not None else None
        paid = avatar_id is not None and self._has_receipt(avatar_id)
        key = (avatar_id, b, paid)
        if not force and self._tablet_shown.get(zone) == key:
            return
        self._tablet_shown[zone] = key
        m = TabletCart()
        m.header.stamp = sec_to_stamp(self.t)
        m.header.frame_id = 'map'
        m.checkout_zone_id = zone
        m.occupied = avatar_id is not None
        if b is not None:
            m.basket = basket_to_msg(b)
        elif avatar_id is not None:
            m.basket.avatar_id = avatar_id
            m.basket.currency = self.layout.currency
        reason = ''
        if m.occupied:
            reason = 'paid' if paid else 'basket is empty' if b is None or b.is_empty else b.blocked_reason
        m.payment_allowed = m.occupied and not reason
        m.blocked_reason = reason
        self._tablets[zone].publish(m)


NODE_CLASS = CheckoutNode


def main(args=None) -> int:
    return run(CheckoutNode, args)


if __name__ == '__main__':
    main()
