"""`gate doctor [--config FILE]`: a field install's checklist, each line ok or what to fix.

Exit status: 0 when nothing needs fixing, 1 otherwise. Without a config it checks
/etc/gate/gate.toml, the file the systemd unit runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gate.cli.run import config_path

DEFAULT_CONFIG = Path("/etc/gate/gate.toml")


def doctor(args: argparse.Namespace) -> int:
    from gate.daemon.doctor import diagnose  # noqa: PLC0415 - the checks import the daemon's parts

    path = config_path(args) or DEFAULT_CONFIG
    findings = diagnose(path)
    for finding in findings:
        print(finding.line())
    to_fix = sum(1 for f in findings if f.status == "fix")
    print(f"{to_fix} thing(s) to fix" if to_fix else "all ok")
    return 1 if to_fix else 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doctor", help="check what a field install needs: devices, GPIO, clock, disk, ledger")
    default = f"default: $GATE_CONFIG, else {DEFAULT_CONFIG}"
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=f"config file ({default})")
    p.set_defaults(func=doctor)
