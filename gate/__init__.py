"""gate: an offline-first entrance daemon.

The public API is what this module re-exports; everything else is internal.
"""

from gate.config import ConfigError, GateConfig, load_config, parse_config
from gate.decision import Ask, Decision, Lane, Situation, Use
from gate.reasons import Reason, Verdict

__all__ = [
    "Ask",
    "ConfigError",
    "Decision",
    "GateConfig",
    "Lane",
    "Reason",
    "Situation",
    "Use",
    "Verdict",
    "load_config",
    "parse_config",
]
