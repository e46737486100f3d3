"""Checkout: payment terminal interface, simulated terminal, receipts (no ROS)."""
from .checkout import Checkout, PaymentOutcome, PaymentStatus, should_alert_left_without_paying
from .receipts import ReceiptRecord, ReceiptStore, qr_payload, verify_qr
from .terminal import PaymentTerminal, SimulatedTerminal, TerminalResult
from .visits import (AgeApprovalRequest, CardDropped, CheckoutAvatar, CheckoutVisits, LeftWithoutPaying,
                     PayRequest, StampOutOfOrder, UnknownZone)

__all__ = ['Checkout', 'PaymentOutcome', 'PaymentStatus', 'should_alert_left_without_paying', 'ReceiptRecord',
           'ReceiptStore', 'qr_payload', 'verify_qr', 'PaymentTerminal', 'SimulatedTerminal', 'TerminalResult',
           'AgeApprovalRequest', 'CardDropped', 'CheckoutAvatar', 'CheckoutVisits', 'LeftWithoutPaying', 'PayRequest',
           'StampOutOfOrder', 'UnknownZone']
