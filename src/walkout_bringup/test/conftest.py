"""Test session setup: rclpy tests get a ROS domain of their own and stay on this machine."""
import os
import random

os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(100, 230)))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
