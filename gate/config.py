"""The configuration file: TOML validated by pydantic models, one per section.

Unknown keys are refused, values are never coerced (`kiosk = "no"` is an error, not false:
pydantic's strict mode, with gate.config_fields for lists, paths and pins), and a bad file
reports every error at once, each by its key path (`lanes.north-1.zone: unknown zone 'hall'`),
so an operator fixes a file in one go.
Later parts (readers, turnstile, screens, sync) add their own sections here; the [turnstile]
section lives in gate.config_turnstile, for size.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gate.config_fields import (
    ConfigPath,
    Host,
    Line,
    Listed,
    Region,
    Section,
    ZoneName,
    given,
    raw_clashes,
    short,
)
from gate.config_metrics import HomeAssistantConfig, MetricsConfig
from gate.config_sync import PATHS, DeviceConfig, HubConfig, SyncConfig
from gate.config_turnstile import TurnstileConfig
from gate.errors import GateError
from gate.records import Direction, Id, Mode
from gate.scanner.symbology import parse_symbologies
from gate.staff import check_pin_hash

Language = Literal["en", "fr", "de"]


class SiteConfig(Section):
    name: Line = Field(min_length=1, max_length=200, description="The venue's name, shown to staff.")
    timezone: ZoneName = Field(description="IANA time zone all local-time rules use, e.g. Europe/Paris.")
    capacity: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Occupancy limit of the site; none = no limit."
    )
    currency: str = Field(
        default="EUR", description="ISO 4217 code of the currency prices are in (three capital letters), e.g. EUR."
    )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, code: str) -> str:
        if len(code) != 3 or not (code.isascii() and code.isalpha() and code.isupper()):
            raise ValueError(f"not an ISO 4217 currency code: {short(code)} (three capital letters, e.g. EUR)")
        return code


class ZoneConfig(Section):
    name: Line = Field(min_length=1, max_length=200, description="Name shown to staff.")


class LaneConfig(Section):
    zone: Id = Field(description="The zone this lane admits to (a key of [zones]).")
    mode: Mode = Field(default="live", description="live admits live entitlements only; test only test ones.")
    directions: Listed[Direction] = Field(
        default=("entry", "exit"), min_length=1, description="Directions this lane has readers for."
    )
    kiosk: bool = Field(default=False, description="A kiosk redeems at a screen instead of opening a turnstile.")
    product: Id | None = Field(
        default=None, description="The product one entry here is, for credit memberships (e.g. 'entry-adult')."
    )


class LedgerConfig(Section):
    path: ConfigPath = Field(description="The SQLite ledger file; created on first use.")


class EngineConfig(Section):
    zero_price_takes_credit: bool = Field(
        default=False, description="Whether a zero-priced item uses up a membership credit."
    )
    language: Language = Field(default="en", description="Language of texts when a screen asks for none.")


class KioskConfig(Section):
    inactivity_s: float = Field(
        default=60.0, ge=2, le=600,
        description="A kiosk session with no touch for this long ends; what it holds is released.",
    )  # fmt: skip
    session_cap_s: float = Field(
        default=300.0, ge=10, le=3600, description="A kiosk session ends after this long, however active."
    )
    warn_s: float = Field(
        default=20.0, ge=20, le=300,
        description="The kiosk screen warns this long before an idle session ends: a countdown, a sound and "
        "a large \"More time\" button (at least 20 s, WCAG 2.2.1).",
    )  # fmt: skip
    fold_at: int = Field(
        default=3, ge=2, le=50,
        description="On the kiosk screen, an event with at least this many performances is folded (expandable).",
    )  # fmt: skip
    typed_per_minute: int = Field(
        default=5, ge=1, le=60,
        description="Codes a kiosk user may type in per minute; more are refused for a while (against guessing).",
    )  # fmt: skip


class StaffConfig(Section):
    """Time limits of the staff acts at the decision point (docs/lane.md, "Staff acts")."""

    override_window_s: float = Field(
        default=300.0, ge=10, le=86_400,
        description="A refusal can be overridden this long after it; an older one needs the code read again.",
    )  # fmt: skip
    readmit_confirm_s: float = Field(
        default=900.0, ge=0, le=86_400,
        description="An override of an entitlement admitted here within this long needs an explicit confirmation.",
    )  # fmt: skip
    attention_expiry_s: float = Field(
        default=600.0, ge=1, le=86_400,
        description="An attention verdict (ID check, child) not confirmed by staff within this long expires.",
    )  # fmt: skip
    void_window_s: float = Field(
        default=86_400.0, ge=60, le=30 * 86_400,
        description="A committed redemption can be voided this long after its commit.",
    )  # fmt: skip
    session_s: float = Field(
        default=120.0, ge=10, le=3600,
        description="A staff session opened by a badge read at a reader lasts this long.",
    )  # fmt: skip
    console_idle_s: float = Field(
        default=120.0, ge=20, le=3600,
        description="The staff console logs out after this long without a touch.",
    )  # fmt: skip
    pin_attempts: int = Field(
        default=5, ge=3, le=20,
        description="Wrong PINs in a row at a device's console before PIN entry there is locked.",
    )  # fmt: skip
    pin_lockout_s: float = Field(
        default=300.0, ge=30, le=3600,
        description="How long PIN entry stays locked after too many wrong PINs (a staff badge still opens the "
        "console).",
    )  # fmt: skip
    break_glass_pin: SecretStr | None = Field(
        default=None,
        description="A PIN hash (`gate staff pin --hash-only`) that opens the console as a supervisor when no "
        "staff record can (a ledger without staff). Printed as ********.",
    )  # fmt: skip

    @field_validator("break_glass_pin")
    @classmethod
    def _pin_hash(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_pin_hash(value.get_secret_value())  # PinHashError (a ValueError) says what is wrong
        return value


class _ReaderConfig(Section):
    lane: Id = Field(description="The lane (a key of [lanes]) whose decisions this reader feeds.")
    direction: Direction = Field(default="entry", description="The direction it reads for: entry or exit.")
    dedupe_seconds: float = Field(
        default=3.0, ge=0, le=60, description="The same code from this reader within this time is one read."
    )


class SerialReaderConfig(_ReaderConfig):
    type: Literal["serial"] = Field(description="A serial or USB CDC scanner.")
    port: Line = Field(
        min_length=1, max_length=4096, description="Device path (/dev/ttyACM0) or pyserial URL (socket://host:port)."
    )
    baudrate: int = Field(default=9600, gt=0, le=4_000_000, description="Line speed.")
    terminator: Literal["cr", "lf", "crlf", "none"] = Field(
        default="cr", description="What ends a code; none = an idle gap (idle_timeout_ms)."
    )
    idle_timeout_ms: int = Field(default=80, ge=10, le=2000, description="Gap that ends a code without terminator.")
    max_length: int = Field(default=4096, ge=16, le=65_536, description="Longer reads are dropped (and logged).")


class WedgeReaderConfig(_ReaderConfig):
    type: Literal["wedge"] = Field(description="A keyboard-wedge USB scanner read through evdev.")
    device: ConfigPath = Field(description="Its input device, ideally a stable udev alias such as /dev/input/scanner0.")
    grab: bool = Field(default=True, description="Grab it exclusively so keystrokes never reach the browser.")


class CameraReaderConfig(_ReaderConfig):
    type: Literal["camera"] = Field(description="A camera: USB (V4L2), Pi CSI (picamera2) or a file.")
    source: Line = Field(
        min_length=1,
        max_length=4096,
        description="/dev/video0 or 0 (V4L2), csi:0 (picamera2), file:PATH (video or image folder).",
    )
    backend: Literal["zxing", "zbar"] = Field(default="zxing", description="Decoder: zxing-cpp, or pyzbar (ZBar).")
    symbologies: Listed[str] | None = Field(
        default=None,
        description="Symbologies to accept (qr, aztec, pdf417, datamatrix, code128, ean13...); none = all.",
    )
    region: Region | None = Field(
        default=None, description="Region of interest x, y, width, height in pixels; none = whole frame."
    )
    max_side: int | None = Field(
        default=None, ge=64, le=16_384, description="Downscale frames so their longer side is at most this many pixels."
    )

    @field_validator("symbologies")
    @classmethod
    def _known_symbologies(cls, names: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if names is not None:
            parse_symbologies(names)  # raises with the unknown name and the known ones
        return names


ReaderConfig = Annotated[SerialReaderConfig | WedgeReaderConfig | CameraReaderConfig, Field(discriminator="type")]


class WatchdogConfig(Section):
    max_loop_lag_s: float = Field(
        default=1.0, gt=0, le=30, description="A loop tick later than this counts as a stalled loop: no watchdog ping."
    )
    ledger_check_s: float = Field(
        default=5.0, gt=0, le=300,
        description="How often the ledger's write check runs (a recent write of the lane's, else a meta row).",
    )


class ClockConfig(Section):
    max_jump_s: float = Field(
        default=30.0, gt=0, le=86_400,
        description="A step of the wall clock against the monotonic clock beyond this is a jump: not trusted.",
    )  # fmt: skip
    require_sync: bool = Field(
        default=True,
        description="Trust the clock only once time sync (NTP) has synchronised it; false for an offline site "
        "whose clock is kept by a battery-backed RTC.",
    )


class DaemonConfig(Section):
    lane: Id | None = Field(
        default=None, description="The lane of [lanes] this daemon runs; required when there are several."
    )
    control_socket: ConfigPath = Field(
        default=Path("/run/gate/control.sock"),
        description="Unix socket of the control interface (gate lane ...); relative to the config file if relative.",
    )
    idle_checkpoint_s: float = Field(
        default=2.0, gt=0, le=3600, description="After this long without a read the lane is idle: the WAL checkpoints."
    )
    watchdog: WatchdogConfig = Field(default_factory=WatchdogConfig, description="Health checks feeding systemd.")
    clock: ClockConfig = Field(default_factory=ClockConfig, description="When the wall clock is trusted.")


class DisplayConfig(Section):
    """The screens the daemon serves (docs/display.md): HTTP and a websocket inside its own loop."""

    enabled: bool = Field(
        default=False, description="Serve the screens: the lane's visitor or kiosk screen, and the staff console."
    )
    host: Host = Field(
        default="127.0.0.1",
        description="Address to listen on: loopback (the device's own browser) unless the screen is elsewhere.",
    )
    port: int = Field(default=8080, ge=0, le=65_535, description="TCP port to listen on; 0 = any free port.")
    language: Language | None = Field(
        default=None, description="Language of the screens until a visitor picks one; none = [engine] language."
    )


class GateConfig(Section):
    site: SiteConfig = Field(description="The venue.")
    zones: Annotated[dict[Id, ZoneConfig], Field(min_length=1)] = Field(description="Areas of the site by id.")
    lanes: Annotated[dict[Id, LaneConfig], Field(min_length=1)] = Field(description="Lanes by id.")
    ledger: LedgerConfig = Field(description="The local ledger.")
    engine: EngineConfig = Field(default_factory=EngineConfig, description="Decision settings.")
    kiosk: KioskConfig = Field(default_factory=KioskConfig, description="Kiosk sessions (a kiosk lane's daemon).")
    staff: StaffConfig = Field(default_factory=StaffConfig, description="Staff acts: overrides, voids, attention.")
    readers: dict[Id, ReaderConfig] = Field(default_factory=dict, description="Barcode readers by id.")
    turnstile: TurnstileConfig | None = Field(
        default=None, description="The turnstile this device drives over GPIO (docs/lane.md); none on a kiosk."
    )
    daemon: DaemonConfig = Field(default_factory=DaemonConfig, description="The lane daemon (gate run).")
    display: DisplayConfig = Field(default_factory=DisplayConfig, description="The screens the daemon serves.")
    device: DeviceConfig = Field(default_factory=DeviceConfig, description="This device (docs/sync.md).")
    sync: SyncConfig = Field(default_factory=SyncConfig, description="The MQTT link of gate sync and gate hub.")
    hub: HubConfig = Field(default_factory=HubConfig, description="The back-office bridge (gate hub).")
    metrics: MetricsConfig = Field(default_factory=MetricsConfig, description="Prometheus endpoints, one per process.")
    homeassistant: HomeAssistantConfig = Field(
        default_factory=HomeAssistantConfig, description="Home Assistant's MQTT discovery (gate sync), read-only."
    )

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> GateConfig:
        problems = [
            f"lanes.{lane_id}.zone: unknown zone {lane.zone!r} (zones: {', '.join(sorted(self.zones))})"
            for lane_id, lane in self.lanes.items()
            if lane.zone not in self.zones
        ]
        if self.daemon.lane is not None and self.daemon.lane not in self.lanes:
            problems.append(f"daemon.lane: unknown lane {self.daemon.lane!r} (lanes: {', '.join(self.lanes)})")
        for reader_id, reader in self.readers.items():
            lane = self.lanes.get(reader.lane)
            if lane is None:
                known = ", ".join(self.lanes)
                problems.append(f"readers.{reader_id}.lane: unknown lane {reader.lane!r} (lanes: {known})")
            elif reader.direction not in lane.directions:
                problems.append(
                    f"readers.{reader_id}.direction: lane {reader.lane!r} has no {reader.direction} direction"
                )
        problems += self.homeassistant.problems(self.device.id)
        context = info.context if isinstance(info.context, dict) else {}
        if context.get("daemon"):
            problems += self.daemon_problems(context.get("lane"))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def daemon_lane(self, asked: str | None = None) -> str | None:
        """The lane a daemon of this config runs: `asked` (gate run --lane), else [daemon] lane,
        else the only lane; None when that is not known (several lanes, none named)."""
        lane = asked or self.daemon.lane
        if lane is None and len(self.lanes) == 1:
            lane = next(iter(self.lanes))
        return lane

    def daemon_problems(self, asked: str | None = None) -> list[str]:
        """What a lane daemon (`gate run`) could not run with, beyond what every tool needs.

        The CLI tools (gate check, import) may use a config of several lanes and no
        [turnstile]; the daemon of a lane that is not a kiosk drives a turnstile.
        """
        lane = self.daemon_lane(asked)
        if lane is None or lane not in self.lanes:
            return []
        if self.lanes[lane].kiosk:
            kiosk = self.kiosk
            if self.display.enabled and kiosk.inactivity_s < kiosk.warn_s + KIOSK_BEFORE_WARNING_S:
                # The screen warns warn_s before an idle session ends (WCAG 2.2.1: at least 20 s).
                return [f"kiosk.inactivity_s: {kiosk.inactivity_s:g} s leaves no time before the screen's warning: "
                        f"at least kiosk.warn_s + {KIOSK_BEFORE_WARNING_S:g} s "
                        f"({kiosk.warn_s + KIOSK_BEFORE_WARNING_S:g} s)"]  # fmt: skip
            return []
        return [] if self.turnstile is not None else [missing_turnstile(lane)]


KIOSK_BEFORE_WARNING_S = 5.0  # a kiosk session's least time before its screen's warning


def missing_turnstile(lane: str) -> str:
    return (
        f"turnstile: lane {lane!r} is not a kiosk: its daemon needs a [turnstile] section "
        '(pin_factory = "mock" without hardware)'
    )


class ConfigError(GateError, ValueError):
    """A config that cannot be used; `problems` lists each as 'key.path: what is wrong'."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def __str__(self) -> str:
        return f"{self.source}: {len(self.problems)} problem(s)\n" + "\n".join(f"  {p}" for p in self.problems)


MAX_CONFIG_CHARS = 1_000_000  # a config is a few kB; more is not a config (or is /dev/zero)
MAX_SOCKET_BYTES = 107  # sun_path of a unix socket, less its NUL


def _key(part: object) -> str:
    """A key of a key path as written, or quoted when it is not one printable word (a key
    "\n" must not break the one line of its problem)."""
    text = str(part)
    return text if text.isprintable() and 0 < len(text) <= 40 and "." not in text else short(text)


def _problems(exc: ValidationError) -> list[str]:
    problems: list[str] = []
    for err in exc.errors():
        path = ".".join(_key(part) for part in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"].endswith("_type") or err["type"] in ("literal_error", "is_instance_of", "finite_number"):
            # A wrong type: say what was written, since strict mode refuses "no" for false.
            message = f"{message}, got {given(err['input'])}"
        if not path or message.startswith(f"{path}."):
            # A model's own check names full key paths (a clash names both of its keys).
            problems.extend(message.split("; "))
        else:
            problems.append(f"{path}: {message}")
    return problems


def parse_config(text: str, *, source: str = "<config>", daemon: bool = False, lane: str | None = None) -> GateConfig:
    """A config from TOML text; ConfigError lists every problem by key path.

    `daemon`: the config of a lane daemon (gate run, gate config check), which must also be
    able to run its lane (`lane`, else its [daemon] lane or only lane; `daemon_problems`).
    """
    if len(text) > MAX_CONFIG_CHARS:
        raise ConfigError(source, [f"longer than {MAX_CONFIG_CHARS} characters: not a config file"])
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from exc
    except ValueError:  # tomllib's int() of more than 4300 digits
        raise ConfigError(source, ["not valid TOML: a number of more than 4300 digits"]) from None
    except RecursionError:
        raise ConfigError(source, ["not valid TOML: arrays or tables nested too deeply"]) from None
    try:
        return GateConfig.model_validate(data, context={"daemon": daemon, "lane": lane})
    except ValidationError as exc:
        problems = _problems(exc)
        # [turnstile]'s own check of pins used twice runs only when its keys are valid: check
        # the raw table too, so a clash is not hidden behind another mistake in the section.
        problems += [p for p in raw_clashes(data.get("turnstile")) if p not in problems]
        raise ConfigError(source, problems) from exc


def load_config(path: Path, *, daemon: bool = False, lane: str | None = None) -> GateConfig:
    try:
        with path.open(encoding="utf-8") as file:
            text = file.read(MAX_CONFIG_CHARS + 1)  # parse_config refuses more than MAX_CONFIG_CHARS
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [f"cannot read: {exc}"]) from exc
    config = parse_config(text, source=str(path), daemon=daemon, lane=lane)
    if not config.ledger.path.is_absolute():
        # A relative ledger path is relative to the config file, not to wherever gate was started.
        ledger = config.ledger.model_copy(update={"path": (path.parent / config.ledger.path).resolve()})
        config = config.model_copy(update={"ledger": ledger})
    if not config.daemon.control_socket.is_absolute():
        settings = config.daemon.model_copy(
            update={"control_socket": (path.parent / config.daemon.control_socket).resolve()}
        )
        config = config.model_copy(update={"daemon": settings})
    config = _resolved(config, path.parent)
    socket = bytes(config.daemon.control_socket)
    if len(socket) > MAX_SOCKET_BYTES:
        problem = f"daemon.control_socket: {len(socket)} bytes long once resolved, a unix socket's limit is 107"
        raise ConfigError(str(path), [problem])
    return config


def _resolved(config: GateConfig, base: Path) -> GateConfig:
    """The sync and hub files relative to the config file's folder (gate.config_sync.PATHS)."""
    for keys in PATHS:
        parents: list[Any] = [config]
        for key in keys[:-1]:
            parents.append(getattr(parents[-1], key))
        value = getattr(parents[-1], keys[-1]) if parents[-1] is not None else None
        if not isinstance(value, Path) or value.is_absolute():
            continue
        updated: Any = (base / value).resolve()
        for parent, key in zip(reversed(parents), reversed(keys), strict=True):
            updated = parent.model_copy(update={key: updated})
        config = updated
    return config
