"""What a scanner's read names: the text, without blanks or a symbology prefix, as a reference."""

from __future__ import annotations

import pytest

from gate.credentials import Unreadable, claim_of, reference_of, text_of


@pytest.mark.parametrize(
    ("read", "text"),
    [
        ("]Q1MEM-0042", "MEM-0042"),  # a QR code read by a scanner that sends AIM identifiers
        ("  ]C0abc 12\r\n", "abc 12"),  # trimmed first, then the prefix
        (b"]d2T-3001", "T-3001"),
        ("MEM-0042", "MEM-0042"),
        ("]", "]"),  # no identifier after the bracket: part of the code
        ("]Q", "]Q"),
        ("]!1X", "]!1X"),
        ("A]Q1B", "A]Q1B"),  # only a leading prefix is one
    ],
)
def test_a_read_loses_its_blanks_and_its_symbology_prefix(read: str | bytes, text: str) -> None:
    assert text_of(read) == text


def test_only_one_prefix_is_taken_off() -> None:
    assert text_of("]Q1]Q1X") == "]Q1X"


@pytest.mark.parametrize(
    ("read", "text"),
    [
        ("\\000001WALLET-7", "WALLET-7"),  # an ECI designator: a backslash and six digits
        ("\\000026MEM-0042\r\n", "MEM-0042"),
        (b"\\000003T-3001", "T-3001"),
        ("]Q2\\000026MEM-0042", "MEM-0042"),  # after an AIM prefix (Q2: QR with ECI)
        ("]d1\\000001T-3001", "T-3001"),
        ("\\00001X", "\\00001X"),  # five digits: part of the code
        ("\\X000001", "\\X000001"),
        ("A\\000001B", "A\\000001B"),  # only a leading designator is one
    ],
)
def test_a_read_loses_an_eci_designator_too(read: str | bytes, text: str) -> None:
    assert text_of(read) == text


def test_an_eci_prefixed_read_names_its_reference() -> None:
    assert reference_of("\\000026 cm77 b") == "CM77B"
    assert claim_of(b"]Q2\\000026t-3001\n") == "T-3001"


def test_a_read_names_its_reference_in_the_stored_form() -> None:
    assert reference_of("]Q1 cm77 b ") == "CM77B"
    assert claim_of(b"]C1t-3001\n") == "T-3001"


@pytest.mark.parametrize(
    ("read", "detail"),
    [
        (b"\xff\xfe\x00", "not text (binary data)"),
        ("x" * 5000, "too long (5000 characters)"),
        ("]Q1   ", "empty"),
        ("A\x07B", "contains control characters"),
    ],
)
def test_a_read_that_names_no_reference_says_why(read: str | bytes, detail: str) -> None:
    assert reference_of(read) == Unreadable(detail)
