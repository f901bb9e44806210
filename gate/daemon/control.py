"""The control interface: JSON lines over a unix stream socket (`gate lane ...`, `gate kiosk ...`).

One request per line, one answer per line. A request is one command of the vocabulary
(gate.point.commands), optionally with a staff login:

    {"op": "status"}                                            -> {"ok": true, "status": {...}}
    {"op": "mode", "mode": "locked", "reason": "cleaning"}      -> {"ok": true, "status": {...}}
    {"op": "open", "reason": "wheelchair", "login": {"staff": "s-17", "pin": "2468"}}
    {"op": "kiosk_choose", "session": "...", "performance": "p1"} -> {"ok": true, "session": {...}}
    anything else                                               -> {"ok": false, "error": "..."}

Every request is validated before use; a bad one is answered and logged, never fatal. The
socket is mode 0660 in a directory of the service's own (RuntimeDirectory=gate), so the gate
user and the members of its group reach it and nobody else. Such a peer acts as a
supervisor named `unix:<user>` (from the socket's peer credentials); with a `login` (a
staff PIN or badge) the request acts with that staff member's role and name instead, so a
steward is refused a supervisor's act. With `"hub": "<key id>"` it acts as the `hub` audience
(`hub:<key id>`): `gate sync` carrying out a remote command it has checked (signature, expiry,
nonce: gate/sync/commands.py); that audience may open once and set the mode, never while the
lane's clock is not trusted. (Whoever reaches the socket is a supervisor already: claiming the
hub gives less, never more.)

`{"op": "debug_block", "seconds": S}` blocks the event loop for S seconds on purpose, so a test
can prove a stalled loop stops the watchdog. It exists only when GATE_TEST_HOOKS=1 is set in
the daemon's environment; otherwise it is an unknown op like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import enum
import json
import logging
import os
import pwd
import socket
import struct
import time
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from gate.acts import NeedsConfirmation
from gate.errors import GateError
from gate.point.commands import (
    COMMANDS,
    LOGIN,
    Actor,
    AnyCommand,
    Audience,
    BadgeLogin,
    Command,
    PinLogin,
    allow,
)
from gate.records import Id

log = logging.getLogger("gate.control")

MAX_LINE = 64 * 1024
_HUB_KEY: TypeAdapter[str] = TypeAdapter(Id)
TEST_HOOKS = "GATE_TEST_HOOKS"


class DebugBlockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    op: Literal["debug_block"] = Field(description="Tests only: block the event loop.")
    seconds: float = Field(gt=0, le=60, description="How long.")


_WITH_HOOKS: TypeAdapter[AnyCommand | DebugBlockRequest] = TypeAdapter(
    Annotated[AnyCommand | DebugBlockRequest, Field(discriminator="op")]
)


class Controlled(Protocol):
    """What the control interface drives: the daemon of one lane."""

    def status(self) -> dict[str, Any]: ...

    async def login(self, login: PinLogin | BadgeLogin) -> Actor: ...

    async def execute(self, command: Command, actor: Actor) -> dict[str, Any]: ...


class ControlError(GateError):
    """A request the lane refused (e.g. open on a locked lane): answered, not fatal."""


def to_json(value: Any) -> Any:
    """Dataclasses, enums and times as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def _problem(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        # A member's errors start with its tag ("mode", "mode" for the mode field of op "mode").
        path = ".".join(str(p) for p in err["loc"][1:])
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        if err["type"] == "union_tag_invalid":
            message = f"unknown op (ops: {err['ctx']['expected_tags'].replace(chr(39), '')})"
        elif err["type"] == "union_tag_not_found":
            message = "missing 'op'"
        parts.append(f"{path}: {message}" if path else message)
    return "; ".join(parts)


class ControlServer:
    """Serves the control socket at `path` for `target` while `async with` lasts."""

    def __init__(self, path: Path, target: Controlled, *, hooks: bool | None = None) -> None:
        self.path = path
        self.target = target
        self.hooks = os.environ.get(TEST_HOOKS) == "1" if hooks is None else hooks
        self._server: asyncio.Server | None = None
        self.requests = 0

    async def __aenter__(self) -> ControlServer:
        self._server = await asyncio.start_unix_server(self._serve, sock=self._bind(), limit=MAX_LINE)
        log.info("control socket %s", self.path)
        if self.hooks:
            log.warning("%s=1: test hooks enabled (debug_block); never set this in production", TEST_HOOKS)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _bind(self) -> socket.socket:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() or self.path.is_symlink():
            if _answers(self.path):
                raise ControlError(f"another daemon answers on {self.path}: is this lane already running?")
            self.path.unlink()  # left by a daemon that died: nobody listens on it
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(self.path))
            self.path.chmod(0o660)  # group members (staff tools, screens) may talk to the lane
            sock.listen(16)
        except OSError:
            sock.close()
            raise
        return sock

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer(writer)
        try:
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as exc:
                    if not exc.partial.strip():
                        return
                    line = exc.partial  # a last request without its newline
                except asyncio.LimitOverrunError:
                    await self._send(writer, {"ok": False, "error": f"request longer than {MAX_LINE} bytes"})
                    return
                if line.strip():
                    await self._send(writer, await self._answer(line, peer))
        except (ConnectionError, OSError):
            pass  # the client went away: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _answer(self, line: bytes, peer: str) -> dict[str, Any]:
        self.requests += 1
        try:
            raw = json.loads(line)
        except ValueError as exc:
            return self._bad(peer, f"Invalid JSON: {exc}")
        if not isinstance(raw, dict):
            return self._bad(peer, "Input should be an object")
        login_raw, hub_raw = raw.pop("login", None), raw.pop("hub", None)
        try:
            request: AnyCommand | DebugBlockRequest = (_WITH_HOOKS if self.hooks else COMMANDS).validate_python(raw)
            login = None if login_raw is None else LOGIN.validate_python(login_raw)
            hub = None if hub_raw is None else _HUB_KEY.validate_python(hub_raw)
        except ValidationError as exc:
            return self._bad(peer, _problem(exc))
        if hub is not None and login is not None:
            return self._bad(peer, "login and hub: one or the other")
        try:
            if isinstance(request, DebugBlockRequest):
                log.warning("control: blocking the event loop for %.1f s (test hook)", request.seconds)
                time.sleep(request.seconds)  # on purpose, on the loop: this is what a hang looks like
                return {"ok": True}
            actor = Actor(Audience.SUPERVISOR, peer) if login is None else await self.target.login(login)
            if hub is not None:
                actor = Actor(Audience.HUB, f"hub:{hub}")
                self._clock_trusted()
            allow(request, actor)
            log.info("control: %s by %s", request.op, actor.by)
            return {"ok": True, **await self.target.execute(request, actor)}
        except NeedsConfirmation as exc:
            return {"ok": False, "error": str(exc), "needs_confirmation": True}
        except GateError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception as exc:
            log.exception("control: %s failed", request.op)
            return {"ok": False, "error": f"{request.op} failed: {type(exc).__name__}: {exc}"}

    def _clock_trusted(self) -> None:
        """A remote command's expiry means something only on a trusted clock."""
        clock = self.target.status().get("clock")
        if isinstance(clock, dict) and clock.get("trusted") is False:
            raise ControlError(f"the lane's clock is not trusted ({clock.get('reason')}): remote commands are refused")

    @staticmethod
    def _bad(peer: str, problem: str) -> dict[str, Any]:
        log.warning("control: bad request from %s: %s", peer, problem)
        return {"ok": False, "error": problem}

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, answer: dict[str, Any]) -> None:
        writer.write(json.dumps(answer, ensure_ascii=False).encode("utf-8") + b"\n")
        await writer.drain()


def _peer(writer: asyncio.StreamWriter) -> str:
    """'unix:alice' from the connecting process's credentials (SO_PEERCRED), for the journal."""
    sock = writer.get_extra_info("socket")
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
    except (OSError, AttributeError, struct.error):
        return "unix:unknown"
    try:
        return f"unix:{pwd.getpwuid(uid).pw_name}"
    except KeyError:
        return f"unix:uid{uid}"


def answers(path: Path) -> bool:
    """Whether a daemon listens on control socket `path` now (a tool that must not run beside one asks)."""
    return _answers(path)


def _answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(0.5)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


class DaemonUnreachable(GateError):
    """No daemon answers on the control socket (not running, or not allowed)."""


def request(path: Path, payload: dict[str, Any], *, timeout: float = 15.0) -> dict[str, Any]:
    """One request to a running daemon, from a command-line tool (blocking)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise DaemonUnreachable(
                f"no gate daemon is running for this config (nothing listens on {path}); "
                "start it with `systemctl start gate` or `gate run --config FILE`"
            ) from None
        except PermissionError:
            raise DaemonUnreachable(
                f"not allowed to reach the daemon at {path}: run as the gate user or join the gate group"
            ) from None
        sock.sendall(json.dumps(payload).encode("utf-8") + b"\n")
        buffer = b""
        while not buffer.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise DaemonUnreachable(f"the daemon at {path} closed the connection without answering")
            buffer += chunk
    except TimeoutError:
        raise DaemonUnreachable(f"the daemon at {path} did not answer within {timeout:.0f} s") from None
    except OSError as exc:
        raise DaemonUnreachable(f"cannot talk to the daemon at {path}: {exc}") from None
    finally:
        sock.close()
    answer: dict[str, Any] = json.loads(buffer)
    return answer
