"""Fixtures shared by the node tests."""
import pytest

rclpy = pytest.importorskip('rclpy')


@pytest.fixture
def ctx():
    """An rclpy context of the test's own."""
    c = rclpy.Context()
    rclpy.init(context=c)
    yield c
    c.try_shutdown()
