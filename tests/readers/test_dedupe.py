"""One code held under a camera, or scanned twice in impatience, is one read."""

from __future__ import annotations

from gate.scanner.read import Deduplicator, Read, as_text, split_aim


def _read(data: str, at: float, reader: str = "cam") -> Read:
    return Read(data, "]Q1", reader, "entry", monotonic=at)


def test_the_same_code_within_the_window_is_one_read() -> None:
    dedupe = Deduplicator(window=3.0)
    seen = [dedupe.fresh(_read("A", t)) for t in (0.0, 0.1, 2.9)]
    assert seen == [True, False, False]
    # still under the camera at 2.9: the window restarts from the last sighting
    assert dedupe.fresh(_read("A", 5.0)) is False
    assert dedupe.fresh(_read("A", 8.5)) is True


def test_other_codes_and_other_readers_are_not_duplicates() -> None:
    dedupe = Deduplicator(window=3.0)
    assert dedupe.fresh(_read("A", 0.0))
    assert dedupe.fresh(_read("B", 0.1))
    assert dedupe.fresh(_read("A", 0.2, reader="exit-cam"))


def test_memory_stays_bounded_over_a_long_day() -> None:
    dedupe = Deduplicator(window=1.0)
    for i in range(10_000):
        dedupe.fresh(_read(f"C{i}", float(i)))
    assert len(dedupe._last) <= 1025


def test_aim_prefixes_and_binary_payloads() -> None:
    assert split_aim(b"]d2\x01\x02") == ("]d2", b"\x01\x02")
    assert split_aim(b"]]notaim") == (None, b"]]notaim")
    assert as_text(b"caf\xc3\xa9") == "café"
    assert as_text(b"\xff") == b"\xff"
