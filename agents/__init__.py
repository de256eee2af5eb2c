"""Thin Faust agents and timers, wiring topics to streams/, and the worker that assembles them
(worker.py). The ``camguard`` command is streams/cli/."""
