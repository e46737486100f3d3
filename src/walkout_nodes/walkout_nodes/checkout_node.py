"""checkout_node: tablets, payment (terminal interface; simulated terminal), receipts, left-without-paying.

Subscribes ``/tracking/avatars``, ``/baskets/state`` and ``/checkout/card_presented`` (the terminals'
card readers); publishes each zone's tablet (``/checkout/<zone>/tablet``, latched) with the cart of the
avatar standing nearest its terminal, ``/checkout/receipts`` and LEFT_WITHOUT_PAYING alerts on ``/alerts``;
serves ``/checkout/request_payment``. A card presented at a zone's terminal pays the cart of the unpaid
avatar nearest that terminal (``payment_trigger: card``); for a bag without a terminal stream, ``payment_trigger: dwell`` presents the
card by itself once an avatar has stood ``simulated_dwell_to_pay_s`` in a zone. ``simulated_staff_age_check_s``
> 0 makes a simulated staff member approve a pending age check. All times are message stamps.
"""
from __future__ import annotations

from rclpy.node import Node

from walkout_core.basket.store import BasketView
from walkout_core.checkout import (AgeApprovalRequest, CardDropped, Checkout, CheckoutAvatar, CheckoutVisits,
                                   LeftWithoutPaying, PaymentOutcome, PaymentStatus, PayRequest, ReceiptStore,
                                   SimulatedTerminal, StampOutOfOrder, UnknownZone)
from walkout_core.checkout.checkout import unit_counts
from walkout_core.checkout.config import CheckoutConfig
from walkout_core.layout import load_layout
from walkout_msgs.msg import Avatar, AvatarArray, BasketArray, CardPresented, Receipt, StoreAlert, TabletCart
from walkout_msgs.srv import ApproveAgeCheck, RequestPayment

from .basket_convert import (alert_to_msg, basket_from_msg, basket_to_msg,
                             receipt_to_msg)
from .common import (EVENT_QOS, LATCHED_QOS, Diagnostics, declare_config, param_update_callback, run, sec_to_stamp,
                     stamp_to_sec)

__all__ = ['CheckoutNode', 'NODE_CLASS', 'main']

SIM_BADGE = 'simulated-staff'


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
        self.visits = CheckoutVisits(self.cfg, self.layout)
        self.paid: set[int] = set()
        self._tablet_shown: dict[str, tuple] = {}
        self._tablets = {z.id: self.create_publisher(TabletCart, z.tablet_topic, LATCHED_QOS)
                         for z in self.layout.checkout_zones}
        self._pub_receipts = self.create_publisher(Receipt, '/checkout/receipts', EVENT_QOS)
        self._pub_alerts = self.create_publisher(StoreAlert, '/alerts', EVENT_QOS)
        self.create_subscription(AvatarArray, '/tracking/avatars', self._on_avatars, EVENT_QOS)
        self.create_subscription(BasketArray, '/baskets/state', self._on_baskets, LATCHED_QOS)
        self.create_subscription(CardPresented, '/checkout/card_presented', self._on_card, EVENT_QOS)
        self.create_service(RequestPayment, '/checkout/request_payment', self._srv_pay)
        self._age_client = self.create_client(ApproveAgeCheck, '/baskets/approve_age_check')
        self.add_on_set_parameters_callback(param_update_callback(
            self, CheckoutConfig, lambda: self.cfg, self._apply_cfg, fixed=('layout', 'db_path', 'terminal')))
        for z in self.layout.checkout_zones:
            self._show_tablet(z.id, None)
        if self.cfg.payment_trigger == 'dwell':
            self.get_logger().info(f'payment_trigger dwell: a card is presented by itself once an avatar has stood '
                                   f'{self.cfg.simulated_dwell_to_pay_s:g} s in a checkout zone '
                                   '(/checkout/card_presented is not used)')

    def _apply_cfg(self, cfg: CheckoutConfig) -> None:
        self.cfg = cfg
        self.visits.cfg = cfg
        self.terminal.decline_pin = cfg.simulated_decline_pin
        self.checkout.qr_key = cfg.receipt_qr_key

    def destroy_node(self) -> None:
        self.receipts.close()
        super().destroy_node()

    # ------------------------------------------------------------------ inputs
    def _on_baskets(self, msg: BasketArray) -> None:
        self.baskets = {int(b.avatar_id): basket_from_msg(b) for b in msg.baskets}
        self._refresh_tablets()

    def _on_card(self, msg: CardPresented) -> None:
        t, zone = stamp_to_sec(msg.header.stamp), str(msg.checkout_zone_id)
        if self.cfg.payment_trigger != 'card':
            self.diag.problem('card_ignored', f'card presented at {zone!r} ignored: payment_trigger is '
                              f'{self.cfg.payment_trigger!r}')
        elif not self.visits.card_presented(t, zone):
            self.diag.problem('unknown_zone', f'card presented at unknown checkout zone {zone!r}')
        else:
            self.diag.count('cards_presented')

    @property
    def t(self) -> float:
        """[s] stamp of the latest accepted avatar update."""
        return self.visits.t

    @staticmethod
    def _avatar_from_msg(a: Avatar) -> CheckoutAvatar:
        return CheckoutAvatar(id=int(a.id), state=int(a.state), is_staff=bool(a.is_staff),
                              position=(float(a.position.x), float(a.position.y)),
                              checkout_zone_id=str(a.checkout_zone_id))

    def _on_avatars(self, msg: AvatarArray) -> None:
        t = stamp_to_sec(msg.header.stamp)
        actions = self.visits.update(t, [self._avatar_from_msg(a) for a in msg.avatars], self.baskets,
                                     self._has_receipt, self._paid_items)
        for act in actions:
            if isinstance(act, StampOutOfOrder):
                self.diag.problem('avatars_out_of_order',
                                  f'avatar array stamped {act.t:.3f} s is older than {act.last_t:.3f} s')
                return
            if isinstance(act, UnknownZone):
                self.diag.problem('unknown_zone', f'avatar {act.avatar_id} in unknown checkout zone {act.zone!r}')
            elif isinstance(act, AgeApprovalRequest):
                if not self._request_age_approval(act.avatar_id):
                    self.visits.age_request_failed(act.avatar_id)
            elif isinstance(act, PayRequest):
                out = self._pay(act.request_id, act.zone, act.avatar_id, act.pin, t)
                if out.status != PaymentStatus.PAID:
                    self.diag.count(f'sim_payment_status_{out.status}')
            elif isinstance(act, CardDropped):
                self.diag.problem('card_dropped', f'card presented at {act.zone} at {act.presented_t:.2f} s '
                                  f'paid nothing: {act.reason}')
            elif isinstance(act, LeftWithoutPaying):
                self._pub_alerts.publish(alert_to_msg(act.alert))
                self.diag.count('left_without_paying')
        self._refresh_tablets()

    # ------------------------------------------------------------------ simulated staff
    def _has_receipt(self, avatar_id: int) -> bool:
        if avatar_id in self.paid:
            return True
        if self.receipts.by_avatar(avatar_id) is not None:
            self.paid.add(avatar_id)
            return True
        return False

    def _paid_items(self, avatar_id: int) -> dict[str, int] | None:
        """Product -> units on the avatar's receipt (None: no receipt)."""
        r = self.receipts.by_avatar(avatar_id)
        return None if r is None else unit_counts(r.items)

    def _request_age_approval(self, avatar_id: int) -> bool:
        if not self._age_client.service_is_ready():
            self.diag.problem('age_service_missing', '/baskets/approve_age_check is not available')
            return False
        self._age_client.call_async(ApproveAgeCheck.Request(avatar_id=avatar_id, approved=True, staff_badge=SIM_BADGE))
        self.diag.count('simulated_age_checks')
        return True

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
    def _refresh_tablets(self, force: bool = False) -> None:
        for zone in self._tablets:
            self._show_tablet(zone, self.visits.occupant(zone), force)

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
