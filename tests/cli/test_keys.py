"""`gate keys generate` and `gate issue`: from a new key to a printed code that opens a lane."""

from __future__ import annotations

import stat
from pathlib import Path

import cv2
import pytest
import zxingcpp

from tests.cli.conftest import Run, last_json

NOON = "2026-06-01T12:00+02:00"


@pytest.mark.parametrize(("symbology", "fmt"), [("qr", "QRCode"), ("aztec", "Aztec"), ("pdf417", "PDF417")])
def test_a_new_key_signs_a_code_that_prints_scans_and_opens_the_lane(
    run: Run, tmp_path: Path, symbology: str, fmt: str
) -> None:
    code, out, _ = run("keys", "generate", "--id", "venue-2026", "--out", str(tmp_path / "keys"))
    key_file = tmp_path / "keys" / "venue-2026.key"
    assert code == 0
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    (tmp_path / "key.jsonl").write_text(out)
    assert run("ledger", "import", str(tmp_path / "key.jsonl"))[0] == 0

    image = tmp_path / "ticket.png"
    code, out, _ = run(
        "issue", "--key", str(key_file), "--id", "print-1", "--from", "2026-06-01T09:00+02:00",
        "--until", "2026-06-01T18:00+02:00", "--pax", "2", "--symbology", symbology, "--out", str(image),
    )  # fmt: skip
    signed = out.strip()
    assert code == 0
    assert signed.startswith("GT1.venue-2026.")
    read = zxingcpp.read_barcodes(cv2.imread(str(image), cv2.IMREAD_GRAYSCALE))
    assert [(r.text, r.format.name) for r in read] == [(signed, fmt)]

    code, out, _ = run("check", read[0].text, "--at", NOON, "--json", "--commit")
    assert code == 0
    assert (last_json(out)["verdict"], last_json(out)["admitted"], last_json(out)["entitlement"]) == (
        "admit", 2, "print-1")
    code, out, _ = run("check", signed, "--at", NOON, "--json")
    assert last_json(out)["reason"] == "already_used"


def test_svg_output_and_bad_requests(run: Run, tmp_path: Path) -> None:
    run("keys", "generate", "--id", "k", "--out", str(tmp_path))
    code, _, err = run("keys", "generate", "--id", "k", "--out", str(tmp_path))
    assert (code, "exists" in err) == (2, True)
    code, _, err = run("keys", "generate", "--id", "has.dot", "--out", str(tmp_path))
    assert (code, "not a usable key id" in err) == (2, True)
    base = ["issue", "--key", str(tmp_path / "k.key"), "--id", "x", "--from", "2026-06-01T09:00Z"]
    code, _, _ = run(*base, "--until", "2026-06-01T18:00Z", "--out", str(tmp_path / "x.svg"))
    assert code == 0
    assert (tmp_path / "x.svg").read_text().lstrip().startswith("<?xml")
    code, _, err = run(*base, "--until", "2026-06-01T08:00Z")
    assert (code, "--until must be after --from" in err) == (2, True)
    code, _, err = run(*base, "--until", "2026-06-01T18:00Z", "--out", str(tmp_path / "x.gif"))
    assert (code, ".png or .svg" in err) == (2, True)
    (tmp_path / "junk.key").write_text("not a key")
    code, _, err = run("issue", "--key", str(tmp_path / "junk.key"), "--id", "x", "--from", "2026-06-01T09:00Z",
                       "--until", "2026-06-01T18:00Z")  # fmt: skip
    assert (code, "not a readable Ed25519 private key" in err) == (2, True)
