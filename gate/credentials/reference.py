"""A read's text, and the plain reference it names.

Anything a scanner can produce arrives here, including garbage: a read that cannot be a
reference gets an `Unreadable` answer naming what is wrong, never an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gate.records import normalise_reference, reference_problem

_MAX_READ = 4096
# A scanner configured to send AIM symbology identifiers prefixes "]" + code letter + modifier.
_AIM_PREFIX = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
# Some also send the code's ECI designator (ISO/IEC 15424: a backslash and six digits, such as
# \000026 for UTF-8) before a wallet pass's code, after the AIM prefix when both are on.
_ECI_PREFIX = re.compile(r"^\\[0-9]{6}")
_PREFIX_STARTS = ("]", "\\")


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Why a read cannot be a reference, for staff and logs."""

    detail: str


def text_of(read: str | bytes) -> str | Unreadable:
    """The read as text, trimmed and without an AIM symbology prefix or an ECI designator."""
    if isinstance(read, bytes):
        if len(read) > _MAX_READ:
            return Unreadable(f"too long ({len(read)} bytes)")
        try:
            read = read.decode("utf-8")
        except UnicodeDecodeError:
            return Unreadable("not text (binary data)")
    if len(read) > _MAX_READ:
        # Checked before any other work so a 100 kB paste costs nothing.
        return Unreadable(f"too long ({len(read)} characters)")
    text = read.strip()
    # One test for the usual read, which has neither prefix; each regex runs only on a read
    # that starts like its prefix.
    if not text.startswith(_PREFIX_STARTS):
        return text
    if text.startswith("]"):
        text = _AIM_PREFIX.sub("", text, count=1)
    if text.startswith("\\"):
        text = _ECI_PREFIX.sub("", text, count=1)
    return text


def reference_of(read: str | bytes) -> str | Unreadable:
    """The normalised reference a read names, or why it names none."""
    text = text_of(read)
    if isinstance(text, Unreadable):
        return text
    return reference_of_text(text)


def reference_of_text(text: str) -> str | Unreadable:
    """`reference_of` for what `text_of` returned already."""
    reference = normalise_reference(text)
    problem = reference_problem(reference)
    return reference if problem is None else Unreadable(problem)
