"""A device's config from the venue's template: placeholders filled, provisioned keys set, validated.

The template is a gate config (TOML) with `${name}` placeholders (`$$` is a dollar sign):
`${device}` and `${site}` are filled in by gate provision, every other one by `--set name=value`.
A value is one printable line without `"` or `\\`, so it cannot leave the quotes it stands in.
gate provision then sets what it owns ([device] id, [sync] site, host, port, username,
password_file, tls and the hub's public keys; a template that sets one of them differently is
refused rather than overridden), and the result must pass `gate config check` as a lane daemon's
config before anything is written.
"""

from __future__ import annotations

import datetime as dt
import string
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gate.config import ConfigError, GateConfig, parse_config
from gate.provision.toml import render
from gate.provision.venue import ProvisionError, Venue

AUTOMATIC = ("device", "site")
MAX_VALUE = 200
MAX_TEMPLATE_CHARS = 200_000
CA_FILE, CERT_FILE, KEY_FILE, PASSWORD_FILE, CONFIG_FILE = (
    "mqtt-ca.crt", "mqtt-client.crt", "mqtt-client.key", "mqtt-password", "gate.toml",
)  # fmt: skip


def parse_sets(pairs: list[str]) -> dict[str, str]:
    """`--set name=value` options as a mapping; ProvisionError naming the first bad one."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            raise ProvisionError(f"--set {pair!r}: give name=value (the name as in the template's ${{name}})")
        if name in AUTOMATIC:
            raise ProvisionError(f"--set {name}: ${{{name}}} is filled in by gate provision")
        if name in values:
            raise ProvisionError(f"--set {name}: given twice")
        if len(value) > MAX_VALUE or not value.isprintable() or '"' in value or "\\" in value:
            raise ProvisionError(f"--set {name}: one printable line of at most {MAX_VALUE} characters, "
                                 "without \" or \\")
        values[name] = value
    return values


def fill(template: Path, values: Mapping[str, str]) -> str:
    """The template's text with every placeholder filled; ProvisionError naming each missing or unused one."""
    try:
        with template.open(encoding="utf-8") as file:
            text = file.read(MAX_TEMPLATE_CHARS + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise ProvisionError(f"template {template}: cannot read: {exc}") from exc
    if len(text) > MAX_TEMPLATE_CHARS:
        raise ProvisionError(f"template {template}: longer than {MAX_TEMPLATE_CHARS} characters")
    form = string.Template(text)
    where, invalid = _first(text)
    if invalid is not None:
        raise ProvisionError(f"template {template} line {invalid}: a $ that is no ${{name}} (write $$ for a dollar "
                             "sign)")
    wanted = form.get_identifiers()
    problems = [f"line {where.get(name, 0)}: ${{{name}}} has no value (--set {name}=...)"
                for name in wanted if name not in values]  # fmt: skip
    problems += [f"--set {name}: the template has no ${{{name}}}" for name in values
                 if name not in wanted and name not in AUTOMATIC]  # fmt: skip
    if problems:
        raise ProvisionError(f"template {template}: " + "; ".join(problems))
    return form.substitute(values)


def device_config(venue: Venue, device: str, values: Mapping[str, str]) -> tuple[str, GateConfig]:
    """The device's config text, and its model; ProvisionError or ConfigError, nothing written."""
    text = fill(venue.template, {**values, "device": device, "site": venue.site})
    source = f"{venue.template} for {device}"
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError, RecursionError) as exc:
        raise ProvisionError(f"{source}: not valid TOML once filled in: {exc}") from exc
    problems: list[str] = []
    for keys, value in owned(venue, device).items():
        _set(data, keys, value, problems)
    if problems:
        raise ConfigError(source, problems)
    made = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    head = (f"# gate config of device {device} (site {venue.site}), made by gate provision from\n"
            f"# {venue.template.name} at {made}.\n"
            "# Change the template and provision again, rather than this file.\n")
    rendered = head + render(data)
    return rendered, parse_config(rendered, source=source, daemon=True)


def owned(venue: Venue, device: str) -> dict[tuple[str, ...], Any]:
    """The keys gate provision sets, by key path."""
    files = venue.device.dir
    keys: dict[tuple[str, ...], Any] = {
        ("device", "id"): device,
        ("sync", "site"): venue.site,
        ("sync", "host"): venue.broker.host,
        ("sync", "port"): venue.broker.port,
        ("sync", "ledger_keys"): dict(venue.hub.ledger_keys),
        ("sync", "command_keys"): dict(venue.hub.command_keys),
    }
    if venue.broker.password_file is not None:
        keys[("sync", "username")] = device
        keys[("sync", "password_file")] = str(venue.device.password_file)
    if venue.tls is not None:
        keys[("sync", "tls", "ca_file")] = str(files / CA_FILE)
        if venue.certificates:
            keys[("sync", "tls", "cert_file")] = str(files / CERT_FILE)
            keys[("sync", "tls", "key_file")] = str(files / KEY_FILE)
    return keys


def _set(data: dict[str, Any], keys: tuple[str, ...], value: Any, problems: list[str]) -> None:
    table = data
    for key in keys[:-1]:
        inner = table.setdefault(key, {})
        if not isinstance(inner, dict):
            problems.append(f"{'.'.join(keys[:-1])}: a table, set by gate provision")
            return
        table = inner
    given = table.get(keys[-1])
    if given is not None and given != value:
        problems.append(f"{'.'.join(keys)}: the template sets it, gate provision sets it from the venue file: "
                        "leave it out of the template")  # fmt: skip
        return
    table[keys[-1]] = value


def _first(text: str) -> tuple[dict[str, int], int | None]:
    """Where each placeholder first stands, and the first `$` that is none (line numbers)."""
    where: dict[str, int] = {}
    invalid: int | None = None
    for match in string.Template.pattern.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        name = match.group("named") or match.group("braced")
        if name:
            where.setdefault(name, line)
        elif match.group("invalid") is not None and invalid is None:
            invalid = line
    return where, invalid
