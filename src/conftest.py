"""Test-session settings shared by every package: DDS stays on this machine, one domain per run."""
import os
import random

os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
# The Makefile gives each run its own domain; a bare `pytest` run picks one.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.SystemRandom().randint(101, 200)))
