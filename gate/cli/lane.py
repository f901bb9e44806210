"""`gate lane status|mode|open|lookup|occupancy|override|confirm|void`: staff acts on the running daemon.

They go over its control socket.

Requests are built from the command vocabulary's models (gate.point.commands).

The socket is the config's `[daemon] control_socket` (or --socket). Exit status: 0 done,
1 the daemon refused or is not reachable (said in one line), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from gate.cli.context import resolve_config
from gate.cli.run import config_path
from gate.daemon.control import DaemonUnreachable, request
from gate.point.commands import (
    Command,
    ConfirmAttention,
    CorrectOccupancy,
    Lookup,
    OpenOnce,
    Override,
    SetMode,
    Status,
    Void,
    request_of,
)
from gate.point.model import LaneMode


def _socket(args: argparse.Namespace) -> Path:
    if args.socket is not None:
        return Path(args.socket)
    config, _ = resolve_config(config_path(args))
    return config.daemon.control_socket


def _ask(args: argparse.Namespace, command: Command) -> dict[str, Any] | None:
    """Send one command of the vocabulary; with --staff, logged in with that staff member's PIN."""
    payload = request_of(command)
    staff = getattr(args, "staff", None)
    if staff:
        pin = getpass.getpass(f"PIN of {staff}: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
        payload["login"] = {"staff": staff, "pin": pin}
    try:
        answer = request(_socket(args), payload)
    except DaemonUnreachable as exc:
        print(f"gate: {exc}", file=sys.stderr)
        return None
    if not answer.get("ok"):
        print(f"gate: the daemon refused: {answer.get('error', 'no reason given')}", file=sys.stderr)
        if answer.get("needs_confirmation"):
            print("gate: to admit again anyway, repeat the command with --confirm", file=sys.stderr)
        return None
    return answer


def lane_status(args: argparse.Namespace) -> int:
    answer = _ask(args, Status(op="status"))
    if answer is None:
        return 1
    status = answer["status"]
    if args.json:
        print(json.dumps(status, indent=2, ensure_ascii=False))
    else:
        print(status_text(status))
    return 0


def status_text(status: dict[str, Any]) -> str:
    """The status for people: mode, passage, clock, health, readers, the last decisions."""
    lane, daemon, clock, health = status["lane"], status["daemon"], status["clock"], status["health"]
    mode = lane["mode"] + (" (FIRE ALARM)" if lane["fire_alarm"] else "")
    if lane["staff_mode"] != lane["mode"]:
        mode += f", staff mode {lane['staff_mode']}"
    lines = [
        f"lane {lane['lane']}: {mode}" + (f" ({lane['mode_reason']})" if lane["mode_reason"] else ""),
        f"daemon: {daemon['state']}, pid {daemon['pid']}, up {daemon['uptime_s']:.0f} s",
    ]
    passage = lane["passage"]
    if passage:
        lines.append(
            f"passage: {passage['direction']}, {passage['passed']}/{passage['expected']} passed, "
            f"{passage['seconds_left']:.1f} s left, {passage['waiting']} waiting"
        )
    else:
        lines.append("passage: none")
    trust = "trusted" if clock["trusted"] else f"NOT TRUSTED: {clock['reason']}"
    lines.append(f"clock: {clock['now']} ({trust})")
    failing = [f"{c['name']}: {c['detail']}" for c in health["checks"] if not c["ok"]]
    lines.append("health: ok" if health["ok"] else "health: FAILING: " + "; ".join(failing))
    for reader in status["readers"]:
        link = {True: "connected", False: "no device", None: "running"}[reader["connected"]]
        link = link if reader["running"] else "restarting"
        error = f", last error: {reader['last_error']}" if reader["last_error"] else ""
        lines.append(
            f"reader {reader['id']} ({reader['type']}, {reader['direction']}): {link}, "
            f"{reader['reads']} read(s), {reader['restarts']} restart(s){error}"
        )
    for decision_id in lane.get("attention", ()):
        lines.append(f"waiting for staff: attention verdict {decision_id} (gate lane confirm {decision_id})")
    if lane.get("staff_session"):
        session = lane["staff_session"]
        lines.append(f"staff session: {session['by']} ({session['role']}) until {session['until']}")
    for hold in lane["restart_holds"]:
        lines.append(f"at start: hold {hold['redemption']} ({hold['entitlement_id'] or '-'}) {hold['outcome']}")
    for decision in lane["last_decisions"][-5:]:
        lines.append(
            f"decision {decision['decision_id'] or '-'} {decision['at']}: {decision['verdict']} {decision['reason']} "
            f"{decision['entitlement_id'] or '-'} x{decision['admitted']} {decision['direction']}"
        )
    return "\n".join(lines)


def lane_mode(args: argparse.Namespace) -> int:
    answer = _ask(args, SetMode(op="mode", mode=args.mode, reason=args.reason))
    if answer is None:
        return 1
    print(f"lane {answer['status']['lane']['lane']}: mode {answer['status']['lane']['mode']}")
    return 0


def lane_open(args: argparse.Namespace) -> int:
    answer = _ask(args, OpenOnce(op="open", direction=args.direction, reason=args.reason))
    if answer is None:
        return 1
    print(f"lane {answer['status']['lane']['lane']}: opened once ({args.direction})")
    return 0


def lane_lookup(args: argparse.Namespace) -> int:
    answer = _ask(args, Lookup(op="lookup", reference=args.reference))
    if answer is None:
        return 1
    found = answer["lookup"]
    decision = found["decision"]
    print(f"{found['reference'] or args.reference}: {decision['verdict']} {decision['reason']} "
          f"{decision['entitlement_id'] or '-'} ({decision['kind'] or 'unknown'})")  # fmt: skip
    for use in found["recent_uses"]:
        print(f"  used {use['direction']} x{use['persons']} at lane {use['lane']}{' (held)' if use['held'] else ''}")
    return 0


def lane_occupancy(args: argparse.Namespace) -> int:
    answer = _ask(args, CorrectOccupancy(op="occupancy", count=args.count, reason=args.reason))
    if answer is None:
        return 1
    occupancy = answer["occupancy"]
    print(f"occupancy: {occupancy['previous']} -> {occupancy['count']}")
    return 0


def _decided(answer: dict[str, Any], act: str) -> int:
    decided = answer["decided"]
    decision = decided["decision"]
    what = f"{decision['verdict']} {decision['reason']} {decision['entitlement_id'] or '-'} x{decision['admitted']}"
    if decided["redemption"]:
        print(f"{act}: {what}, redemption {decided['redemption']}: the lane opens")
        return 0
    print(f"{act}: {what}, decision {decided['decision_id']}: nothing opens (override it if need be)")
    return 1


def lane_override(args: argparse.Namespace) -> int:
    answer = _ask(args, Override(op="override", decision=args.decision, reason=args.reason, confirm=args.confirm))
    return 1 if answer is None else _decided(answer, "override")


def lane_confirm(args: argparse.Namespace) -> int:
    answer = _ask(args, ConfirmAttention(op="confirm", decision=args.decision, reason=args.reason))
    return 1 if answer is None else _decided(answer, "confirm")


def lane_void(args: argparse.Namespace) -> int:
    answer = _ask(args, Void(op="void", redemption=args.redemption, reason=args.reason))
    if answer is None:
        return 1
    void = answer["void"]
    withdrawn = f", admission {void['admission_withdrawn']} withdrawn" if void["admission_withdrawn"] else ""
    print(f"void: redemption {void['redemption']}: {void['uses']} use(s) given back{withdrawn}")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lane = sub.add_parser("lane", help="status and staff actions of the running lane daemon")
    verbs = lane.add_subparsers(dest="verb", required=True, metavar="VERB")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="config file (its [daemon] socket)")
    common.add_argument("--socket", type=Path, help="control socket (default: the config's [daemon] control_socket)")
    staff = argparse.ArgumentParser(add_help=False)
    staff.add_argument("--reason", required=True, help="why (journaled with the action)")
    staff.add_argument("--staff", metavar="ID", help="act as this staff member (asks for the PIN); default: "
                       "your unix user, as a supervisor")  # fmt: skip

    status = verbs.add_parser("status", parents=[common], help="mode, passage, clock, health, readers")
    status.add_argument("--json", action="store_true", help="the whole status as JSON")
    status.set_defaults(func=lane_status)

    mode = verbs.add_parser("mode", parents=[common, staff], help="switch the lane's mode")
    mode.add_argument("mode", choices=[m.value for m in LaneMode])
    mode.set_defaults(func=lane_mode)

    open_ = verbs.add_parser("open", parents=[common, staff], help="let one person through once")
    open_.add_argument("--direction", choices=["entry", "exit"], default="entry")
    open_.set_defaults(func=lane_open)

    lookup = verbs.add_parser("lookup", parents=[common], help="a code's status and recent uses; consumes nothing")
    lookup.add_argument("reference")
    lookup.add_argument("--staff", metavar="ID", help="act as this staff member (asks for the PIN)")
    lookup.set_defaults(func=lane_lookup)

    occupancy = verbs.add_parser("occupancy", parents=[common, staff], help="set the occupancy counter to a count")
    occupancy.add_argument("count", type=int)
    occupancy.set_defaults(func=lane_occupancy)

    override = verbs.add_parser("override", parents=[common, staff], help="admit what a refusal refused (supervisor)")
    override.add_argument("decision", help="the refused decision's id (gate lane status lists the last ones)")
    override.add_argument("--confirm", action="store_true", help="admit again an entitlement admitted here lately")
    override.set_defaults(func=lane_override)

    confirm = verbs.add_parser("confirm", parents=[common], help="the attention check (ID, child) is done: admit")
    confirm.add_argument("decision", help="the attention verdict's decision id")
    confirm.add_argument("--reason", default="checked by staff", help="what staff checked (journaled)")
    confirm.add_argument("--staff", metavar="ID", help="act as this staff member (asks for the PIN)")
    confirm.set_defaults(func=lane_confirm)

    void = verbs.add_parser("void", parents=[common, staff], help="give a committed redemption's uses back")
    void.add_argument("redemption", help="the redemption's id")
    void.set_defaults(func=lane_void)
