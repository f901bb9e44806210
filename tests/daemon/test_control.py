"""The control socket in-process: validation, answers, socket file, stale sockets, the client."""

from __future__ import annotations

import asyncio
import json
import socket
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from gate.daemon.control import ControlError, ControlServer, DaemonUnreachable, request
from gate.point import LaneMode
from gate.point.commands import Actor, Audience, BadgeLogin, Command, OpenOnce, PinLogin, SetMode
from gate.point.staff import LoginRefused


class Target:
    """A daemon stand-in: PIN 2468 logs staff in as a steward, anything else is refused."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def status(self) -> dict[str, Any]:
        return {"lane": {"lane": "l1", "mode": "normal"}}

    async def login(self, login: PinLogin | BadgeLogin) -> Actor:
        if isinstance(login, PinLogin) and login.pin == "2468":
            return Actor(Audience.STEWARD, f"pin:{login.staff}")
        raise LoginRefused("wrong staff id or PIN")

    async def execute(self, command: Command, actor: Actor) -> dict[str, Any]:
        if isinstance(command, OpenOnce):
            if command.direction == "exit":
                raise ControlError("lane l1 has no exit direction")
            if command.reason == "boom":
                raise RuntimeError("a bug")
            self.calls.append(("open", command.direction, command.reason, actor.by))
        elif isinstance(command, SetMode):
            self.calls.append(("mode", command.mode, command.reason, actor.by))
        return {"status": self.status()}


async def _exchange(path: Path, lines: list[bytes]) -> list[dict[str, Any]]:
    reader, writer = await asyncio.open_unix_connection(str(path), limit=1 << 20)
    answers = []
    for line in lines:
        writer.write(line)
        await writer.drain()
        answers.append(json.loads(await reader.readline()))
    writer.close()
    await writer.wait_closed()
    return answers


def _serve(tmp_path: Path, body: Callable[[Path, Target], Awaitable[None]], *, hooks: bool = False) -> Target:
    target = Target()
    path = tmp_path / "run" / "control.sock"

    async def scenario() -> None:
        async with ControlServer(path, target, hooks=hooks):
            await body(path, target)
        assert not path.exists()  # removed on the way out

    asyncio.run(scenario())
    return target


def test_requests_and_answers(tmp_path: Path) -> None:
    async def body(path: Path, target: Target) -> None:
        assert stat.S_IMODE(path.stat().st_mode) == 0o660
        answers = await _exchange(path, [
            b'{"op": "status"}\n',
            b'{"op": "mode", "mode": "locked", "reason": "cleaning"}\n',
            b'{"op": "open", "reason": "wheelchair"}\n',
            b'{"op": "open", "direction": "exit", "reason": "x"}\n',
            b'{"op": "open", "reason": "boom"}\n',
            b'{"op": "status"}\n',
            b'{"op": "open", "reason": "lost ticket", "login": {"staff": "s-17", "pin": "2468"}}\n',
            b'{"op": "mode", "mode": "free", "reason": "crowd", "login": {"staff": "s-17", "pin": "2468"}}\n',
            b'{"op": "open", "reason": "x", "login": {"staff": "s-17", "pin": "0000"}}\n',
        ])  # fmt: skip
        assert answers[0] == {"ok": True, "status": {"lane": {"lane": "l1", "mode": "normal"}}}
        assert answers[1]["ok"] and answers[2]["ok"]
        assert answers[3] == {"ok": False, "error": "lane l1 has no exit direction"}
        assert answers[4] == {"ok": False, "error": "open failed: RuntimeError: a bug"}
        assert answers[5]["ok"]  # the same connection goes on after errors
        assert answers[6]["ok"]  # a steward may open once...
        assert answers[7] == {"ok": False, "error": "mode: not allowed for a steward (allowed: supervisor)"}
        assert answers[8] == {"ok": False, "error": "wrong staff id or PIN"}

    target = _serve(tmp_path, body)
    me = f"unix:{__import__('getpass').getuser()}"
    assert target.calls == [
        ("mode", LaneMode.LOCKED, "cleaning", me),  # the local CLI's user acts as a supervisor
        ("open", "entry", "wheelchair", me),
        ("open", "entry", "lost ticket", "pin:s-17"),  # ...and is named by the PIN it logged in with
    ]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"not json\n", "Invalid JSON"),
        (b"[1]\n", "Input should be an object"),
        (b"{}\n", "missing 'op'"),
        (b'{"op": "fly"}\n', "unknown op (ops: status, mode, open, lookup, occupancy"),
        (b'{"op": "status", "login": {"staff": "s-1"}}\n', "pin: Field required"),
        (b'{"op": "debug_block", "seconds": 1}\n', "unknown op"),
        (b'{"op": "status", "x": 1}\n', "x: unknown key"),
        (b'{"op": "mode", "mode": "party", "reason": "r"}\n', "mode: Input should be 'normal', 'free', 'locked'"),
        (b'{"op": "mode", "mode": "locked"}\n', "reason: Field required"),
        (b'{"op": "mode", "mode": "locked", "reason": ""}\n', "reason: String should have at least 1 character"),
        (b'{"op": "open", "direction": "up", "reason": "r"}\n', "direction: Input should be 'entry' or 'exit'"),
        (b"\xff\xfe\n", "Invalid JSON"),
    ],
)
def test_bad_requests_are_answered_never_fatal(tmp_path: Path, line: bytes, error: str) -> None:
    async def body(path: Path, target: Target) -> None:
        bad, good = await _exchange(path, [line, b'{"op": "status"}\n'])
        assert bad["ok"] is False and error in bad["error"], bad
        assert good["ok"] is True

    assert _serve(tmp_path, body).calls == []


def test_an_over_long_request_is_refused(tmp_path: Path) -> None:
    async def body(path: Path, target: Target) -> None:
        (answer,) = await _exchange(path, [b'{"op": "' + b"x" * 70_000 + b'"}\n'])
        assert answer == {"ok": False, "error": "request longer than 65536 bytes"}
        (again,) = await _exchange(path, [b'{"op": "status"}\n'])
        assert again["ok"]

    _serve(tmp_path, body)


def test_a_client_that_hangs_up_does_not_matter(tmp_path: Path) -> None:
    async def body(path: Path, target: Target) -> None:
        for payload in (b"", b'{"op": "sta', b'{"op": "status"}\n'):
            _, writer = await asyncio.open_unix_connection(str(path))
            writer.write(payload)
            writer.close()
        await asyncio.sleep(0.05)
        # A last request without its newline is still answered.
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(b'{"op": "status"}')
        writer.write_eof()
        assert json.loads(await reader.readline())["ok"]
        writer.close()

    _serve(tmp_path, body)


def test_debug_block_with_test_hooks(tmp_path: Path) -> None:
    async def body(path: Path, target: Target) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        (answer,) = await _exchange(path, [b'{"op": "debug_block", "seconds": 0.2}\n'])
        assert answer == {"ok": True} and loop.time() - started >= 0.2

    _serve(tmp_path, body, hooks=True)


def test_a_stale_socket_is_replaced_and_a_live_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays: a daemon killed with -9 leaves it so

    async def scenario() -> None:
        async with ControlServer(path, Target(), hooks=False):
            with pytest.raises(ControlError, match="another daemon answers"):
                async with ControlServer(path, Target(), hooks=False):
                    pass
            answer = await asyncio.to_thread(request, path, {"op": "status"})
            assert answer["ok"]

    asyncio.run(scenario())


def test_the_client_when_nobody_listens(tmp_path: Path) -> None:
    with pytest.raises(DaemonUnreachable, match="no gate daemon is running"):
        request(tmp_path / "none.sock", {"op": "status"})
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / "stale.sock"))
    stale.close()
    with pytest.raises(DaemonUnreachable, match="no gate daemon is running"):
        request(tmp_path / "stale.sock", {"op": "status"})
