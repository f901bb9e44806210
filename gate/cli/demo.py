"""`gate demo` (and plain `gate`): the product in a minute, with no hardware and no broker.

It builds a fresh demo ledger dated around now and runs the real lane on simulated pins
(gate/demo/run.py): a guided tour of every entitlement kind goes through the lane, then
whatever codes are typed on stdin (and shown to a camera, when there is one), with a live
view of what the lane does: decisions, relays, lamps, buzzer, passages, mode, fire alarm.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import sys
from pathlib import Path

from gate.cli.context import build_demo_ledger, demo_config

CAMERA = "/dev/video0"


def demo(args: argparse.Namespace) -> int:
    # Imported here: the lane loads gpiozero, which `gate check` and friends need not.
    from gate.demo.run import DemoOptions, run_demo  # noqa: PLC0415

    config = demo_config()
    assert config.turnstile is not None  # the embedded config has one
    now = dt.datetime.now(config.site.tz)
    build_demo_ledger(config, now=now, fresh=True)
    camera = CAMERA if not args.no_camera and Path(CAMERA).exists() else None
    tty = sys.stdout.isatty()
    if args.log_level is None:
        # The view shows what the lane warns about (fire, alarms), and a camera that cannot open
        # retries quietly: log lines would only bury the view's.
        for name in ("gate.turnstile", "gate.point", "gate.scanner", "gate.daemon"):
            logging.getLogger(name).setLevel(logging.ERROR)
    turnstile = config.turnstile
    kiosks = [lane for lane, c in config.lanes.items() if c.kiosk]
    print(f"gate demo: {config.site.name}, lane {config.daemon.lane} (a turnstile on simulated pins)"
          f"{', kiosk ' + ', '.join(kiosks) if kiosks else ''}")  # fmt: skip
    print(f"ledger {config.ledger.path}: every entitlement kind, dated around now")
    print(f"time {now:%a %d %b %Y %H:%M %Z}")
    print(f"readers: codes typed here{'' if args.tour_only else ' after the tour'}; "
          f"camera {camera + ' (show it a code)' if camera else 'none (no ' + CAMERA + ')'}")  # fmt: skip
    if args.no_walk:
        print(f"nobody walks through (--no-walk): each admitted passage times out after "
              f"{turnstile.passage_timeout_s:g} s and its hold is released, nothing consumed")  # fmt: skip
    else:
        print(f"a simulated visitor pushes the arm {args.walk_after:g} s after each unlock pulse "
              f"({turnstile.pulse_ms} ms); a passage not made within {turnstile.passage_timeout_s:g} s "
              "is released (--no-walk shows it)")  # fmt: skip
    print(flush=True)
    options = DemoOptions(
        typed=not args.tour_only, walk=not args.no_walk, walk_after_s=args.walk_after, camera=camera,
        pace_s=args.pace if args.pace is not None else (1.0 if tty else 0.0),
        tty=tty and os.environ.get("TERM") != "dumb", live_input=sys.stdin.isatty(),
        display_port=None if args.no_display else args.display_port,
    )  # fmt: skip
    try:
        asyncio.run(run_demo(config, options=options, out=sys.stdout))
    except (BrokenPipeError, BaseExceptionGroup) as exc:
        if not _only_broken_pipes(exc):
            raise
        # `gate demo | head`: whoever read the view has gone. Nothing more to say, and nothing
        # left for Python to flush into the closed pipe on its way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


def _only_broken_pipes(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(_only_broken_pipes(inner) for inner in exc.exceptions)
    return isinstance(exc, BrokenPipeError)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="the demo lane on an embedded config and ledger (the default command)")
    p.add_argument("--tour-only", action="store_true", help="stop after the guided tour")
    p.add_argument("--display-port", type=int, default=8080, metavar="PORT",
                   help="the visitor screen on 127.0.0.1:PORT (another free port if taken)")  # fmt: skip
    p.add_argument("--no-display", action="store_true", help="no screen, the terminal view only")
    p.add_argument("--no-walk", action="store_true", help="nobody walks through: passages time out and are released")
    p.add_argument("--walk-after", type=float, default=0.6, metavar="S",
                   help="seconds a simulated visitor takes to push the arm after an unlock (default 0.6)")  # fmt: skip
    p.add_argument("--pace", type=float, metavar="S",
                   help="pause after each tour step (default 1 s on a terminal, none otherwise)")  # fmt: skip
    p.add_argument("--no-camera", action="store_true", help=f"do not read {CAMERA} even when it exists")
    p.set_defaults(func=demo)
