"""Several hub processes of one venue: what each subscribes to, and its name at the broker.

With `[hub] group` (PostgreSQL only: the store is what the hubs share), the topics whose every
message one hub should take, the devices' events, their command results and the requests
(catch-up, snapshots), are subscribed through MQTT v5 shared subscriptions,
`$share/<group>/<topic>`: the broker hands each message to one member of the group. Presence
and health stay plain subscriptions: they are retained states, which MQTT v5 says a shared
subscription does not receive when it subscribes (Mosquitto 2.0.11 sends them anyway, measured;
a broker that keeps to the standard does not), so a hub that starts alone still learns them;
every hub writes them alike, an upsert each.

A member's session ends with its connection (session expiry 0). Mosquitto 2.0 hands a shared
subscription's messages round robin to every member's session, a disconnected one's included,
and queues them there until it comes back (measured with 2.0.11): a hub killed for good would
keep its share of the events for a day, each resent event having one chance in N to reach it
again. Without a session, the broker forgets a member as soon as its connection drops, and
the rest of the group takes everything; what the dead one had taken and not confirmed, its
devices send again (`[sync] confirm_timeout_s`).

Each process has a name of its own (`[hub] instance`, by default the machine's host name): its
client id, `gate-hub-<site>-<instance>` (two clients of one id throw each other off the broker),
and its presence topic, `hub/online/<instance>` (one hub's will must not say the venue's hubs
are gone while another runs).
"""

from __future__ import annotations

import re
import socket

from gate.config import GateConfig
from gate.config_sync import SyncConfig
from gate.sync.topics import Topics

SHARE = "$share"


def instance(config: GateConfig) -> str:
    """This hub process's name among the venue's: `[hub] instance`, else the host name (made fit for a topic)."""
    if config.hub.instance is not None:
        return config.hub.instance
    name = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname().split(".")[0])[:64].strip("-._")
    return name or "hub"


def several(config: GateConfig) -> bool:
    """Whether other hub processes may share this one's store (PostgreSQL)."""
    return config.hub.dsn_file is not None


def subscriptions(config: GateConfig, topics: Topics) -> list[str]:
    """The hub's subscriptions: events, results and requests shared within `[hub] group`, if any."""
    group = config.hub.group

    def taken(topic: str) -> str:
        return topic if group is None else f"{SHARE}/{group}/{topic}"

    return [taken(topics.all_events), taken(topics.requests), taken(topics.all_results), topics.all_health,
            topics.all_online]  # fmt: skip


def identity(config: GateConfig, topics: Topics) -> tuple[str, str]:
    """The hub's MQTT client id and its presence topic."""
    site = config.sync.site
    if not several(config):
        return f"gate-hub-{site}", f"{topics.base}/hub/online"
    name = instance(config)
    return f"gate-hub-{site}-{name}", f"{topics.base}/hub/online/{name}"


def link_settings(config: GateConfig) -> SyncConfig:
    """The link's settings: in a group, a session that ends with the connection (above)."""
    if config.hub.group is None:
        return config.sync
    return config.sync.model_copy(update={"session_expiry_s": 0})
