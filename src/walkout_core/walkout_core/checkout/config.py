"""Configuration of the checkout node."""
from __future__ import annotations

from dataclasses import dataclass

from walkout_core.config import param

__all__ = ['CheckoutConfig']


@dataclass(frozen=True)
class CheckoutConfig:
    layout: str = param('small', '-', 'store layout name or path (checkout zones, contactless limit)')
    reliable_sensors: bool = param(False, '-', 'reliable QoS on inputs (replay for scoring)')
    db_path: str = param('/tmp/walkout/receipts.sqlite', '-', 'SQLite file of the receipts (WAL mode)')
    terminal: str = param('simulated', '-', 'payment terminal driver', choices=('simulated',))
    payment_trigger: str = param('card', '-', "what presents the card to the simulated terminal: 'card' = a "
                                 'CardPresented event on /checkout/card_presented (a terminal driver; the '
                                 "simulator's bags) charges the cart of the avatar in that zone; 'dwell' = the "
                                 'avatar standing simulated_dwell_to_pay_s in a zone (bags without a terminal '
                                 'stream)', choices=('card', 'dwell'))
    card_hold_s: float = param(10.0, 's', "a presented card waits at most this long for the zone's cart to become "
                               'payable (age check, reviews) while its avatar stays in the zone', min_value=0.0,
                               max_value=600.0)
    simulated_dwell_to_pay_s: float = param(1.0, 's', 'payment_trigger dwell: the card is presented once '
                                            'the avatar has stood this long in a checkout zone', min_value=0.0,
                                            max_value=60.0)
    simulated_pin: str = param('1234', '-', 'simulated terminal: PIN typed when one is needed')
    simulated_decline_pin: str = param('0000', '-', 'simulated terminal: a PIN the terminal declines')
    simulated_staff_age_check_s: float = param(0.0, 's', 'simulated staff approve a pending age check after '
                                               'the avatar has stood this long in a zone (0 = off)',
                                               min_value=0.0, max_value=600.0)
    replay_staff_age_check_s: float = param(0.5, 's', 'used instead of simulated_staff_age_check_s when that is 0 '
                                            'and reliable_sensors is true (a scoring replay), so replays complete; '
                                            '0 = off', min_value=0.0, max_value=600.0)
    receipt_qr_key: str = param('walkout-demo-key', '-', 'key of the receipt QR checksum (HMAC-SHA256)')
    payment_retry_s: float = param(0.2, 's', 'simulated terminal: wait between payment attempts of one '
                                   'avatar', min_value=0.0, max_value=60.0)
    left_check_delay_s: float = param(3.0, 's', 'an exited avatar is checked for an unpaid basket this long after '
                                      'it exited (late shelf events land first)', min_value=0.0, max_value=120.0)
