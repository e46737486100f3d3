"""Store simulator: scenario -> people, camera frames, load cells and ground truth in a rosbag2 bag.

See docs/SIMULATOR.md. Entry points: :func:`walkout_core.sim.engine.simulate`,
:func:`walkout_core.sim.scenario.load_scenario`, ``walkout_core.sim.cli:main`` and
``walkout_core.sim.bench:bench``.
"""
