"""The [device], [sync] and [hub] sections of the config file (docs/sync.md); gate.config holds them.

Secrets never sit in the config: the broker's password is read from `password_file` (mode
0600, or a systemd credential), so the config can be printed, kept in git and shown in a
status. Relative paths are relative to the config file (gate.config.load_config).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from gate.config_fields import ConfigPath, Host, Section, TopicLevel
from gate.records import Id


class DeviceConfig(Section):
    id: TopicLevel | None = Field(
        default=None,
        description="This device's id, unique in the site: its events' key and its topics (needed by gate sync).",
    )


class TlsConfig(Section):
    ca_file: ConfigPath = Field(description="The CA certificate the broker's certificate is checked against.")
    cert_file: ConfigPath | None = Field(default=None, description="This device's certificate (client TLS).")
    key_file: ConfigPath | None = Field(default=None, description="Its private key (mode 0600).")


Kind = Literal["ticket", "membership", "credit_membership", "subscription", "reservation", "voucher"]


class OfflineConfig(Section):
    """What a device does while cut off from the site's other devices (its sync link down)."""

    refuse: dict[Kind, Annotated[float, Field(ge=0, le=7 * 86_400)]] = Field(
        default_factory=lambda: dict[Kind, float]({"voucher": 0.0}),
        description="Kinds refused (reason `offline`) once the link has been down this many seconds: another "
        "device may have used the code meanwhile. Default: vouchers at once (a kiosk cut off sends the "
        "visitor to the desk); add e.g. ticket = 600. Kinds not listed are admitted and reconciled later.",
    )  # fmt: skip


class SyncConfig(Section):
    """The MQTT link of `gate sync` (and of `gate hub`): one broker, MQTT v5, a persistent session."""

    site: TopicLevel = Field(default="site", description="The site's id in the topics (gate/v1/<site>/...).")
    host: Host = Field(default="127.0.0.1", description="The broker's address.")
    port: int = Field(default=1883, ge=1, le=65_535, description="The broker's port (8883 with TLS, usually).")
    username: str | None = Field(default=None, max_length=200, description="The broker user; none = anonymous.")
    password_file: ConfigPath | None = Field(
        default=None, description="A file holding the broker password (mode 0600): never the password itself."
    )
    tls: TlsConfig | None = Field(default=None, description="TLS to the broker; none = plain TCP (loopback only).")
    connect_timeout_s: float = Field(
        default=10.0, ge=1, le=120,
        description="How long a connection attempt may take. A link cut before the broker answered is only "
        "noticed then (aiomqtt waits for the answer), so this bounds how soon a healed partition is back.",
    )  # fmt: skip
    keepalive_s: int = Field(default=30, ge=5, le=600, description="MQTT keepalive: a dead link is noticed in 1.5x.")
    session_expiry_s: int = Field(
        default=86_400, ge=60, le=30 * 86_400,
        description="How long the broker keeps this client's session (subscriptions, QoS 1 messages) while away.",
    )  # fmt: skip
    confirm_timeout_s: float = Field(
        default=10.0, ge=1, le=600,
        description="Events the hub has not confirmed this long after they were sent are sent again.",
    )  # fmt: skip
    poll_ms: float = Field(
        default=10.0, ge=1, le=1000, description="How often sync looks for the lanes' new journal rows."
    )
    online_within_s: float = Field(
        default=10.0, ge=6, le=600,
        description="Online means connected with a word from the hub or a peer this recently (the hub and every "
        "device speak every 5 s); otherwise the device is offline and its offline policy applies.",
    )  # fmt: skip
    peer_hold_s: float = Field(
        default=60.0, ge=5, le=3600,
        description="A peer's held redemption counts here this long at most (its longest passage and a margin), "
        "unless the peer finishes it first.",
    )  # fmt: skip
    ledger_keys: dict[Id, Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]{43}=$")]] = Field(
        default_factory=dict,
        description="The hub's ledger keys this device trusts, by key id: Ed25519 public keys (base64, as "
        "`gate keys generate --purpose ledger` prints them). A batch signed by any other is refused.",
    )  # fmt: skip
    command_keys: dict[Id, Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]{43}=$")]] = Field(
        default_factory=dict,
        description="The hub's command keys this device obeys, by key id: Ed25519 public keys (base64, as "
        "`gate keys generate --purpose command` prints them). None: remote commands are refused.",
    )  # fmt: skip
    snapshot_behind: int = Field(
        default=100, ge=1, le=1_000_000,
        description="A gate more batches behind the hub's head than this (or a new one) takes a snapshot instead "
        "of replaying them; the hub builds a new snapshot once its newest is this many batches old.",
    )  # fmt: skip
    retention_days: float = Field(
        default=30.0, ge=1, le=3650,
        description="Journal rows the hub confirmed are deleted from this device after this long (the privacy "
        "retention; the hub keeps the site's history).",
    )  # fmt: skip
    outbox_alarm: int = Field(
        default=100_000, ge=100, le=100_000_000,
        description="Rows waiting for the hub past this many: an alarm in the log and the health message, long "
        "before the disk fills.",
    )  # fmt: skip
    offline: OfflineConfig = Field(default_factory=OfflineConfig, description="The policy while cut off.")
    batch: int = Field(default=200, ge=1, le=1000, description="Journal rows per published message at most.")
    reconnect_max_s: float = Field(
        default=30.0, ge=1, le=600, description="The longest wait between two attempts to reach the broker."
    )


_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # a topic level: no `/`, `+` or `#`


class HubConfig(Section):
    """`gate hub`: the back-office bridge (docs/sync.md)."""

    store: ConfigPath = Field(
        default=Path("hub.sqlite"),
        description="The hub's store (SQLite), unless `dsn_file` is given; the hub's copy of the ledger lives beside "
        "it either way (`<name>-ledger.sqlite`).",
    )  # fmt: skip
    dsn_file: ConfigPath | None = Field(
        default=None,
        description="A file holding a PostgreSQL connection string (`postgresql://...` or `host=... dbname=...`; "
        "mode 0600: it may hold a password): the hub's store is then that database, shared by many venues "
        "(needs the `gate[hub]` extra; docs/scale.md).",
    )  # fmt: skip
    ledger_key_id: Id = Field(default="hub", description="The id of the key that signs the ledger's batches.")
    ledger_key_file: ConfigPath | None = Field(
        default=None, description="Its private key (PEM, mode 0600, `gate keys generate --purpose ledger`)."
    )
    command_key_id: Id = Field(default="hub-command", description="The id of the key that signs remote commands.")
    command_key_file: ConfigPath | None = Field(
        default=None, description="Its private key (PEM, mode 0600, `gate keys generate --purpose command`)."
    )
    inbox: ConfigPath | None = Field(
        default=None,
        description="A folder the running hub takes ledger files from (`*.jsonl`, complete once renamed to that "
        "name): each published as by `gate hub publish`, then moved to done/, or to failed/ with a .error file.",
    )  # fmt: skip
    group: Annotated[str, Field(pattern=_NAME)] | None = Field(
        default=None,
        description="Several hub processes of the venue on one PostgreSQL (`dsn_file`) share the devices' events, "
        "results and requests through the broker's shared subscriptions `$share/<group>/...` (docs/scale.md).",
    )  # fmt: skip
    instance: Annotated[str, Field(pattern=_NAME)] | None = Field(
        default=None,
        description="This hub process's name among the venue's (with `dsn_file`): its MQTT client id "
        "`gate-hub-<site>-<instance>` and presence topic; default: the machine's host name.",
    )  # fmt: skip

    @model_validator(mode="after")
    def _shared(self) -> HubConfig:
        if self.group is not None and self.dsn_file is None:
            raise ValueError("hub.group: hub processes share a store on PostgreSQL only: set hub.dsn_file too")
        return self


PATHS: tuple[tuple[str, ...], ...] = (
    ("sync", "password_file"), ("sync", "tls", "ca_file"), ("sync", "tls", "cert_file"), ("sync", "tls", "key_file"),
    ("hub", "store"), ("hub", "dsn_file"), ("hub", "ledger_key_file"), ("hub", "command_key_file"), ("hub", "inbox"),
)  # fmt: skip
