"""Thin Faust agents, timers and the command line, wiring topics to streams/."""
