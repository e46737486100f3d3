"""Payment-terminal interface and the simulated terminal."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ['TerminalResult', 'PaymentTerminal', 'SimulatedTerminal', 'to_cents', 'PAYMENT_CONTACTLESS',
           'PAYMENT_CHIP_AND_PIN']

#: ``Receipt.PAYMENT_*``
PAYMENT_CONTACTLESS = 0
PAYMENT_CHIP_AND_PIN = 1


def to_cents(amount: float) -> int:
    """Money compared in whole cents, never as floats."""
    return int(round(float(amount) * 100))


@dataclass(frozen=True)
class TerminalResult:
    approved: bool
    pin_required: bool = False
    method: int = PAYMENT_CONTACTLESS
    pin_used: bool = False
    message: str = ''


class PaymentTerminal(Protocol):
    def charge(self, amount: float, currency: str, pin: str) -> TerminalResult:
        """Charge ``amount``; a PIN is needed above the contactless limit."""


class SimulatedTerminal:
    """Contactless up to ``contactless_limit`` inclusive without a PIN; above, chip and PIN.

    Any non-empty PIN other than ``decline_pin`` is accepted.
    """

    def __init__(self, contactless_limit: float, decline_pin: str = '0000'):
        self.limit_cents = to_cents(contactless_limit)
        self.decline_pin = decline_pin

    def needs_pin(self, amount: float) -> bool:
        return to_cents(amount) > self.limit_cents

    def charge(self, amount: float, currency: str, pin: str) -> TerminalResult:
        if not self.needs_pin(amount):
            return TerminalResult(True, method=PAYMENT_CONTACTLESS, message=f'contactless {amount:.2f} {currency}')
        if not pin:
            return TerminalResult(False, pin_required=True, method=PAYMENT_CHIP_AND_PIN,
                                  message=f'{amount:.2f} {currency} is above the contactless limit: PIN required')
        if pin == self.decline_pin:
            return TerminalResult(False, method=PAYMENT_CHIP_AND_PIN, pin_used=True, message='card declined')
        return TerminalResult(True, method=PAYMENT_CHIP_AND_PIN, pin_used=True,
                              message=f'chip and PIN {amount:.2f} {currency}')
