"""Validation of a big import file in worker processes.

Validating a line with pydantic and writing its canonical body costs about 20 us, most of an
import's time, and lines are independent of each other once the first one (the header's
place) is checked. So a big file's lines go in chunks to worker processes while this process
stages what comes back, in file order: the staged rows, the problems (line, field, message)
and the counts are exactly those of a sequential check, and the import stays all or nothing.

The workers are plain Python processes running `serve` fed over pipes, not a
multiprocessing pool: forking could copy a lock another of the daemon's threads holds, and
multiprocessing's spawn re-imports the caller's main script, which breaks any script without
an `if __name__ == "__main__"` guard. Starting them costs a fraction of a second, so only big
files use them.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import IO, Any, NamedTuple

from gate.cache.errors import ImportProblem, LedgerError
from gate.cache.validate import LineChecker, NumberedLine, Staged

CHUNK_LINES = 5_000
MAX_WORKERS = 4
MIN_BYTES = 16 * 1024 * 1024  # below this, starting workers costs more than they save
_LENGTH = struct.Struct("<Q")
_WORKER = "from gate.cache.pool import serve; serve()"


class Checked(NamedTuple):
    """A worker's answer for one chunk of lines."""

    staged: list[tuple[Any, ...]]  # Staged rows as plain tuples: they cross the pipe faster
    problems: list[ImportProblem]  # the first MAX_PROBLEMS of the chunk
    total: int  # problems found in the chunk, kept or not
    lines: Counter[str]


def workers() -> int:
    """Worker processes worth starting here: one per available core, none on a single core."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return min(cores, MAX_WORKERS) if cores > 1 else 0


def check_chunk(chunk: list[NumberedLine]) -> Checked:
    """Check lines that come after the file's first line (what a worker does with a chunk)."""
    checker = LineChecker(first=False)
    staged = [tuple(row) for row in map(checker.check_numbered, chunk) if row is not None]
    return Checked(staged, checker.problems.kept, checker.problems.total, checker.lines)


def checked(lines: Iterable[NumberedLine], checker: LineChecker, count: int) -> Iterator[Sequence[Sequence[Any]]]:
    """Batches of staged rows in file order; `checker` gathers the problems and line counts.

    The file's first line is checked here, the rest by `count` workers taking chunks in
    turn. A worker gets its next chunk as soon as its answer is read, so each has one chunk
    in flight: memory stays bounded and neither side can block the other on a full pipe.
    """
    items = iter(lines)
    head: list[Staged] = []
    for item in items:
        row = checker.check_numbered(item)
        if row is not None:
            head.append(row)
        if not checker.expects_first:
            break
    yield head
    procs = [_start() for _ in range(count)]
    try:
        busy = [_send(proc, list(islice(items, CHUNK_LINES))) for proc in procs]
        turn = 0
        while busy[turn]:
            result: Checked = _receive(procs[turn])
            busy[turn] = _send(procs[turn], list(islice(items, CHUNK_LINES)))
            checker.problems.merge(result.problems, result.total)
            checker.lines.update(result.lines)
            yield result.staged
            turn = (turn + 1) % count
    finally:
        for proc in procs:
            _stop(proc)


def _start() -> subprocess.Popen[bytes]:
    root = str(Path(__file__).resolve().parents[2])  # where `gate` is imported from
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen(
        [sys.executable, "-c", _WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )


def _send(proc: subprocess.Popen[bytes], chunk: list[NumberedLine]) -> bool:
    """Give a worker a chunk; False (and nothing sent) when there is none left."""
    if not chunk:
        return False
    assert proc.stdin is not None
    try:
        _write(proc.stdin, chunk)
    except BrokenPipeError:
        raise LedgerError(f"an import worker stopped (exit status {proc.wait()})") from None
    return True


def _receive(proc: subprocess.Popen[bytes]) -> Any:
    assert proc.stdout is not None
    answer = _read(proc.stdout)
    if answer is None:
        raise LedgerError(f"an import worker stopped (exit status {proc.wait()})")
    return answer


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _write(stream: IO[bytes], value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _read(stream: IO[bytes]) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    return pickle.loads(stream.read(_LENGTH.unpack(head)[0]))  # only ever our own worker's pipe


def serve() -> None:
    """A worker's main loop: answer each chunk on stdin with its Checked on stdout, until stdin closes."""
    while (chunk := _read(sys.stdin.buffer)) is not None:
        _write(sys.stdout.buffer, check_chunk(chunk))
