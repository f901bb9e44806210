"""What every command needs: the config (given, or the embedded demo), the ledger, the engine, times."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gate.bounds import instant_problem
from gate.cache import Ledger
from gate.config import GateConfig, load_config, parse_config
from gate.demo.ledger import DEMO_CONFIG, demo_lines
from gate.engine import Engine
from gate.errors import GateError


class UsageError(GateError):
    """Bad input on the command line: reported in one line, exit status 2."""


def state_dir() -> Path:
    """Where the demo keeps its ledger: $GATE_STATE_DIR, else the XDG state directory."""
    if explicit := os.environ.get("GATE_STATE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "gate"


def demo_config() -> GateConfig:
    directory = state_dir()
    config = parse_config(DEMO_CONFIG, source="<embedded demo config>")
    ledger = config.ledger.model_copy(update={"path": directory / config.ledger.path})
    return config.model_copy(update={"ledger": ledger})


def resolve_config(path: Path | None) -> tuple[GateConfig, bool]:
    """The config to use and whether it is the embedded demo one."""
    if path is None and (env := os.environ.get("GATE_CONFIG")):
        path = Path(env)
    if path is None:
        return demo_config(), True
    return load_config(path), False


def build_demo_ledger(config: GateConfig, *, now: dt.datetime, fresh: bool = False) -> None:
    """Create the demo ledger, dated around `now`, unless it exists (or `fresh` asks anew)."""
    path = config.ledger.path
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with Ledger.open(path) as ledger:
        ledger.import_lines(demo_lines(now.astimezone(config.site.tz)), source="<demo ledger>")


@contextmanager
def open_engine(config_path: Path | None, *, ledger_path: Path | None = None) -> Iterator[Engine]:
    """The engine on the configured ledger (or on `ledger_path` instead, e.g. a scratch copy)."""
    config, is_demo = resolve_config(config_path)
    if is_demo:
        build_demo_ledger(config, now=dt.datetime.now(config.site.tz))
    if ledger_path is not None:
        config = config.model_copy(update={"ledger": config.ledger.model_copy(update={"path": ledger_path})})
    with Ledger.open(config.ledger.path, create=False) as ledger:
        yield Engine(ledger, config)


_ZONED = re.compile(r"^(?P<stamp>[^\[]+)\[(?P<zone>[^\]]+)\]$")


def parse_time(text: str | None, tz: dt.tzinfo, *, option: str = "") -> dt.datetime:
    """An instant from the command line: ISO 8601 with an offset or Z, or with a zone in brackets.

    A time without a zone is refused rather than guessed: across a DST change a local
    time can name two instants, and a rule audit must say which one it tried. A time outside
    the range gate decides on (gate.bounds: 2000 to 2100) is refused too. `option` (`--at`)
    leads each error, so the one line names what was wrong and where.
    """
    try:
        return _parse_time(text, tz)
    except UsageError as exc:
        raise UsageError(f"{option} {exc}" if option else str(exc)) from None


def _parse_time(text: str | None, tz: dt.tzinfo) -> dt.datetime:
    if text is None or text == "now":
        return dt.datetime.now(tz)
    zoned = _ZONED.match(text.strip())
    stamp = zoned["stamp"] if zoned else text.strip()
    try:
        at = dt.datetime.fromisoformat(stamp)
    except ValueError:
        raise UsageError(f"not an ISO 8601 time: {text!r} (e.g. 2026-05-01T10:00+02:00)") from None
    if zoned:
        if at.tzinfo is not None:
            raise UsageError(f"{text!r}: give either an offset or a zone, not both")
        try:
            at = at.replace(tzinfo=ZoneInfo(zoned["zone"]))
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(f"{text!r}: unknown time zone {zoned['zone']!r}") from None
    elif at.tzinfo is None:
        raise UsageError(
            f"{text!r} has no time zone: add an offset (2026-05-01T10:00+02:00), Z for UTC, "
            "or a zone (2026-05-01T10:00[Europe/Paris])"
        )
    if problem := instant_problem(at):
        raise UsageError(f"{text!r}: {problem}")
    return at
