"""association_node: shelf events + avatar tracks -> basket events (and review alerts).

Subscribes ``/tracking/avatars`` and ``/shelves/events`` (and ``/baskets/events`` for reviews that staff
resolved); publishes ``/baskets/events`` and REVIEW_NEEDED alerts on ``/alerts``. An event is decided
only once the avatar stream has passed its stamp by ``decision_margin_s`` (stamps only).
"""
from __future__ import annotations

import time

from rclpy.node import Node

from walkout_core.association import AssociationConfig, Associator
from walkout_core.basket.model import Cause
from walkout_core.layout import load_layout
from walkout_msgs.msg import AvatarArray, BasketEvent, ShelfEvent, StoreAlert

from .basket_convert import (alert_to_msg, change_from_msg, change_to_msg, frame_from_msg, shelf_event_from_msg)
from .common import EVENT_QOS, Diagnostics, declare_config, param_update_callback, run

__all__ = ['AssociationNode', 'NODE_CLASS', 'main']


class AssociationNode(Node):
    def __init__(self, node_name: str = 'association_node', **kwargs):
        super().__init__(node_name, **kwargs)
        self.cfg: AssociationConfig = declare_config(self, AssociationConfig)
        self.layout = load_layout(self.cfg.layout)
        self.core = Associator(self.cfg, self.layout)
        self.diag = Diagnostics(self, 'association')
        self._last_input = time.monotonic()
        self._pub_events = self.create_publisher(BasketEvent, '/baskets/events', EVENT_QOS)
        self._pub_alerts = self.create_publisher(StoreAlert, '/alerts', EVENT_QOS)
        self.create_subscription(AvatarArray, '/tracking/avatars', self._on_avatars, EVENT_QOS)
        self.create_subscription(ShelfEvent, '/shelves/events', self._on_shelf_event, EVENT_QOS)
        self.create_subscription(BasketEvent, '/baskets/events', self._on_basket_event, EVENT_QOS)
        if self.cfg.idle_flush_s > 0:
            self.create_timer(min(1.0, self.cfg.idle_flush_s / 2), self._on_idle_timer)
        self.add_on_set_parameters_callback(param_update_callback(self, AssociationConfig, lambda: self.cfg,
                                                                  self._apply_cfg))

    def _apply_cfg(self, cfg: AssociationConfig) -> None:
        self.cfg = cfg
        self.core.cfg = cfg
        self.core.handovers.cfg = cfg
        self.core.history.keep_s = cfg.history_s

    # ------------------------------------------------------------------ inputs
    def _on_avatars(self, msg: AvatarArray) -> None:
        self._last_input = time.monotonic()
        frame, bad = frame_from_msg(msg)
        if bad:
            self.diag.problem('avatar_malformed', f'{bad} avatar(s) with a non-finite position dropped')
        if not self.core.add_frame(frame):
            self.diag.problem('avatars_out_of_order', f'avatar array stamped {frame.t:.3f} s is not newer than '
                              f'{self.core.history.latest_t:.3f} s: ignored')
            return
        self.diag.count('avatar_arrays')
        self._publish(self.core.advance())

    def _on_shelf_event(self, msg: ShelfEvent) -> None:
        self._last_input = time.monotonic()
        try:
            ev = shelf_event_from_msg(msg, self.layout)
        except ValueError as exc:
            self.diag.problem('shelf_event_malformed', str(exc))
            return
        latest = self.core.history.latest_t
        if latest is not None and ev.t < latest - self.cfg.history_s:
            self.diag.problem('shelf_event_too_old', f'shelf event {ev.event_id} at {ev.t:.3f} s is older than the '
                              f'avatar history ({self.cfg.history_s} s): decided without avatars')
        if self.core.add_shelf_event(ev):
            self.diag.count('shelf_events')
        else:
            self.diag.problem('shelf_event_ignored', f'shelf event {ev.event_id}: duplicate or zero quantity')
        self._publish(self.core.advance())

    def _on_basket_event(self, msg: BasketEvent) -> None:
        if msg.cause == BasketEvent.CAUSE_REVIEW_RESOLVED:
            self.core.apply_external(change_from_msg(msg))

    def _on_idle_timer(self) -> None:
        if self.core.pending and time.monotonic() - self._last_input > self.cfg.idle_flush_s:
            self.diag.count('idle_flushes')
            self._publish(self.core.flush())

    # ------------------------------------------------------------------ outputs
    def _publish(self, changes) -> None:
        for ch in changes:
            self._pub_events.publish(change_to_msg(ch))
            self.diag.count('basket_events')
            if ch.needs_review:
                self.diag.count('reviews')
                if ch.review is not None:
                    self._pub_alerts.publish(alert_to_msg(ch.review))
            elif ch.cause == Cause.RESTOCK:
                self.diag.count('restocks')


NODE_CLASS = AssociationNode


def main(args=None) -> int:
    return run(AssociationNode, args)


if __name__ == '__main__':
    main()
