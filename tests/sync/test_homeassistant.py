"""Home Assistant's MQTT device discovery from a real `gate sync`, through a Mosquitto running the ACL
of docs/mqtt.md: the retained discovery message, its state, and the announce again when Home
Assistant says it is online. Home Assistant itself does not install on this Python: its side
is played with mosquitto_sub and mosquitto_pub, under its own broker user."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gate.cache import Ledger
from gate.point.model import LaneMode
from gate.point.modes import StoredMode, save_mode
from tests.sync.conftest import Site, until
from tests.sync.guarded import guarded_site
from tests.sync.hubs import engine, ticket, use
from tests.sync.test_secure_broker import USERS

USERS_HA = {**USERS, "homeassistant": "ha-secret"}
CONFIG = "homeassistant/device/d1/config"
STATE = "gate/v1/s1/devices/d1/state"
HEADER = {"type": "header", "format": "gate-ledger", "version": 1}


# The keys of Home Assistant's MQTT documentation, "Device discovery payload" (the device-based
# discovery of Home Assistant 2024.11 and later; integrations/mqtt): the shared `device` (`dev`,
# identifiers or connections required) and `origin` (`o`, `name` required) mappings, the shared
# `state_topic` and `qos`, and each component under `components` (`cmps`) with its `platform`
# (`p`) and, for an entity, its `unique_id`; a sensor's and a binary sensor's options as their
# own pages give them. Nothing else is allowed here: no `command_topic` can slip in.
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Device(_Strict):
    ids: list[str] = Field(min_length=1)
    name: str = Field(min_length=1)
    mf: str | None = None
    mdl: str | None = None
    sw: str | None = None


class Origin(_Strict):
    name: str = Field(min_length=1)
    sw: str | None = None
    url: str | None = None


class Component(_Strict):
    p: Literal["sensor", "binary_sensor"]
    unique_id: str = Field(min_length=1)
    name: str
    icon: str | None = None
    device_class: str | None = None
    entity_category: Literal["diagnostic", "config"] | None = None
    state_class: Literal["measurement", "total", "total_increasing"] | None = None
    options: list[str] | None = None
    state_topic: str | None = None
    value_template: str | None = None
    availability_topic: str | None = None
    payload_available: str | None = None
    payload_not_available: str | None = None
    payload_on: str | None = None
    payload_off: str | None = None

    @model_validator(mode="after")
    def _platform(self) -> Component:
        if self.p == "sensor" and self.device_class == "enum":
            assert self.options, "an enum sensor lists its options"
        if self.p == "binary_sensor":
            assert self.payload_on and self.payload_off and self.options is None
        return self


class Discovery(_Strict):
    dev: Device
    o: Origin
    cmps: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")], Component] = Field(min_length=1)
    state_topic: str
    qos: Literal[0, 1, 2]


def _mqtt(site: Site, tool: str, *args: str, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    """mosquitto_sub or mosquitto_pub as Home Assistant's broker user."""
    return subprocess.run(
        [tool, "-p", str(site.broker.port), "-u", "homeassistant", "-P", USERS_HA["homeassistant"], *args],
        check=False, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def _retained(site: Site, topic: str) -> Any:
    done = _mqtt(site, "mosquitto_sub", "-t", topic, "-C", "1", "-W", "5")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Site]:
    with guarded_site(tmp_path, USERS_HA) as site:
        yield site


def test_sync_announces_the_device_to_home_assistant_read_only(guarded: Site) -> None:
    site = guarded
    secret = site.dir / "d1.password"
    secret.write_text(USERS["d1"] + "\n")
    secret.chmod(0o600)
    config = site.config("d1", device="d1", lanes={"l1": {"zone": "main"}}, username="d1", password_file=secret.name)
    config.write_text(config.read_text() + '\n[homeassistant]\ndiscovery = true\nname = "North lane"\n')
    ledger = Ledger.open(site.dir / "d1.sqlite")
    lines = site.dir / "tickets.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in (HEADER, ticket("ONE", holder=None))))
    ledger.import_file(lines)
    lane = engine(config, ledger)
    use(lane, "ONE")  # admitted and through: one inside
    assert lane.admit("NOPE", lane="l1", at=dt.datetime.now(dt.UTC)).decision.reason.value == "unknown_code"
    sync = site.run("sync", config)

    # The discovery message, retained, as Home Assistant reads it under its own user.
    found = until(lambda: _mqtt(site, "mosquitto_sub", "-t", CONFIG, "-C", "1", "-W", "2").stdout, what=sync.log())
    discovery = Discovery.model_validate(json.loads(found))
    assert discovery.dev.name == "North lane" and discovery.o.name == "gate" and discovery.qos == 1
    assert discovery.state_topic == STATE
    assert set(discovery.cmps) == {"l1_mode", "l1_verdict", "l1_reason", "occupancy", "online"}
    assert discovery.cmps["online"].state_topic == "gate/v1/s1/devices/d1/online"
    assert discovery.cmps["l1_mode"].availability_topic == "gate/v1/s1/devices/d1/online"
    assert discovery.cmps["l1_mode"].options == [mode.value for mode in LaneMode]  # every mode a lane can be in
    assert "command" not in found

    # The state it points at: the lane's newest decision by its reason code, the site's count.
    state = until(lambda: _retained(site, STATE), what="the state")
    assert state["v"] == 1 and state["occupancy"] == 1
    assert state["lanes"] == {"l1": {"mode": "normal", "verdict": "deny", "reason": "unknown_code"}}
    online = _mqtt(site, "mosquitto_sub", "-t", "gate/v1/s1/devices/d1/online", "-C", "1", "-W", "5")
    assert online.stdout.strip() == "online"

    # Staff lock the lane (as the daemon keeps it in the ledger): the state follows.
    save_mode(ledger, "l1", StoredMode(LaneMode.LOCKED, "closing", None, None), previous=LaneMode.NORMAL)
    locked = until(lambda: (s := _retained(site, STATE))["lanes"]["l1"]["mode"] == "locked" and s, what="locked")
    assert locked["lanes"]["l1"]["reason"] == "unknown_code"
    text = json.dumps(locked)
    assert "t-one" not in text and "ONE" not in text  # codes and ids of holders never leave in it

    # Home Assistant restarts: its birth message asks for the device again.
    watcher = subprocess.Popen(
        ["mosquitto_sub", "-p", str(site.broker.port), "-u", "homeassistant", "-P", USERS_HA["homeassistant"],
         "-t", CONFIG, "-C", "2", "-W", "10", "-F", "%r %p"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert watcher.stdout is not None
    first = watcher.stdout.readline()
    assert first.startswith("1 ")  # the retained one, at once
    assert _mqtt(site, "mosquitto_pub", "-t", "homeassistant/status", "-m", "online").returncode == 0
    second = watcher.stdout.readline()
    assert second.startswith("0 ") and Discovery.model_validate(json.loads(second[2:]))  # announced again, live
    assert watcher.wait(10) == 0
    assert "Home Assistant is online: the device announced again" in sync.log()
    # Home Assistant cannot write on a device's topic (the ACL gives it none).
    denied = _mqtt(site, "mosquitto_pub", "-V", "mqttv5", "-q", "1", "-t", "gate/v1/s1/devices/d1/commands",
                   "-m", "{}")  # fmt: skip
    assert "not authorized" in denied.stderr.lower()  # MQTT v5: the broker's PUBACK says so
    assert sync.stop() == 0
    ledger.close()
