"""The turnstile over GPIO: relays, sensors, lamps, buzzer, the fire loop and the two-phase passage.

An optional part a lane plugs into its decision point (gate.point); see docs/lane.md.
"""

from gate.turnstile.io import LaneHardwareError, TurnstileIO, make_factory
from gate.turnstile.turnstile import Turnstile

__all__ = ["LaneHardwareError", "Turnstile", "TurnstileIO", "make_factory"]
