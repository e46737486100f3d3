"""basket_node: one durable basket per avatar, the alert registry, reviews and age checks.

Subscribes ``/baskets/events``, ``/alerts`` (alerts of every node: registry, left-without-paying) and
``/checkout/receipts`` (paid); publishes ``/baskets/state`` (latched), AGE_CHECK alerts and alert state
changes on ``/alerts``, and REVIEW_RESOLVED basket events on ``/baskets/events``. Services
``/baskets/resolve_review``, ``/baskets/approve_age_check``, ``/alerts/update``. Every change is
committed to SQLite (WAL) before it is published; a restarted node resumes from the file.
"""
from __future__ import annotations

from rclpy.node import Node

from walkout_core.basket import BasketStore, StoreResult
from walkout_core.basket.config import BasketConfig
from walkout_core.layout import load_layout
from walkout_msgs.msg import BasketArray, BasketEvent, Receipt, StoreAlert
from walkout_msgs.srv import ApproveAgeCheck, ResolveReview, UpdateAlert

from .basket_convert import (alert_from_msg, alert_to_msg, baskets_to_msg, change_from_msg,
                             change_to_msg)
from .common import EVENT_QOS, LATCHED_QOS, Diagnostics, declare_config, param_update_callback, run, stamp_to_sec

__all__ = ['BasketNode', 'NODE_CLASS', 'main']


class BasketNode(Node):
    def __init__(self, node_name: str = 'basket_node', **kwargs):
        super().__init__(node_name, **kwargs)
        self.cfg: BasketConfig = declare_config(self, BasketConfig)
        self.layout = load_layout(self.cfg.layout)
        self.store = BasketStore(self.cfg.db_path, self.layout.catalogue, self.layout.currency,
                                 self.cfg.review_block_min_score)
        self.diag = Diagnostics(self, 'baskets')
        self._pub_state = self.create_publisher(BasketArray, '/baskets/state', LATCHED_QOS)
        self._pub_alerts = self.create_publisher(StoreAlert, '/alerts', EVENT_QOS)
        self._pub_events = self.create_publisher(BasketEvent, '/baskets/events', EVENT_QOS)
        self.create_subscription(BasketEvent, '/baskets/events', self._on_event, EVENT_QOS)
        self.create_subscription(StoreAlert, '/alerts', self._on_alert, EVENT_QOS)
        self.create_subscription(Receipt, '/checkout/receipts', self._on_receipt, EVENT_QOS)
        self.create_service(ResolveReview, '/baskets/resolve_review', self._srv_resolve)
        self.create_service(ApproveAgeCheck, '/baskets/approve_age_check', self._srv_age)
        self.create_service(UpdateAlert, '/alerts/update', self._srv_alert)
        self.add_on_set_parameters_callback(param_update_callback(
            self, BasketConfig, lambda: self.cfg, self._apply_cfg, fixed=('layout', 'db_path')))
        n = len(self.store.baskets())
        if n:
            self.get_logger().info(f'resumed {n} basket(s) and {len(self.store.pending_reviews())} pending '
                                   f'review(s) from {self.cfg.db_path}')
        self._publish_state()

    def _apply_cfg(self, cfg: BasketConfig) -> None:
        self.cfg = cfg
        self.store.review_block_min_score = cfg.review_block_min_score

    def destroy_node(self) -> None:
        self.store.close()
        super().destroy_node()

    # ------------------------------------------------------------------ outputs (after the commit)
    def _publish_state(self) -> None:
        self._pub_state.publish(baskets_to_msg(self.store.baskets(), self.store.last_stamp))

    def _emit(self, res: StoreResult) -> None:
        for ch in res.changes:
            self._pub_events.publish(change_to_msg(ch))
        for a in res.alerts:
            self._pub_alerts.publish(alert_to_msg(a))
        if res.avatars:
            self._publish_state()

    # ------------------------------------------------------------------ inputs
    def _on_event(self, msg: BasketEvent) -> None:
        if not msg.event_id:
            self.diag.problem('event_malformed', 'basket event without event_id: ignored')
            return
        try:
            res = self.store.apply_change(change_from_msg(msg))
        except Exception as exc:  # noqa: BLE001 - a bad event must not stop the store
            self.diag.problem('event_failed', f'basket event {msg.event_id} not applied: {exc}')
            return
        if res.message and res.message not in ('already applied', 'applied to no basket'):
            self.diag.problem('event_inconsistent', res.message)
        self.diag.count('events')
        self._emit(res)

    def _on_alert(self, msg: StoreAlert) -> None:
        if not msg.alert_id:
            self.diag.problem('alert_malformed', 'alert without alert_id: ignored')
            return
        res = self.store.observe_alert(alert_from_msg(msg))
        if res.ok:
            self.diag.count('alerts')
            if res.avatars:
                self._publish_state()

    def _on_receipt(self, msg: Receipt) -> None:
        res = self.store.mark_paid(int(msg.avatar_id), msg.receipt_id, stamp_to_sec(msg.header.stamp))
        if res.ok:
            self.diag.count('paid')
            self._publish_state()

    # ------------------------------------------------------------------ services
    def _srv_resolve(self, req: ResolveReview.Request, resp: ResolveReview.Response) -> ResolveReview.Response:
        res = self.store.resolve_review(req.alert_id, int(req.avatar_id), req.staff_badge)
        resp.success, resp.message = res.ok, res.message
        self._emit(res)
        return resp

    def _srv_age(self, req: ApproveAgeCheck.Request, resp: ApproveAgeCheck.Response) -> ApproveAgeCheck.Response:
        res = self.store.approve_age(int(req.avatar_id), bool(req.approved), req.staff_badge)
        resp.success, resp.message = res.ok, res.message
        self._emit(res)
        return resp

    def _srv_alert(self, req: UpdateAlert.Request, resp: UpdateAlert.Response) -> UpdateAlert.Response:
        res = self.store.update_alert(req.alert_id, int(req.state), req.staff_badge)
        resp.success, resp.message = res.ok, res.message
        self._emit(res)
        return resp


NODE_CLASS = BasketNode


def main(args=None) -> int:
    return run(BasketNode, args)


if __name__ == '__main__':
    main()
