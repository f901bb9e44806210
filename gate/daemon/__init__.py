"""The lane daemon (`gate run`): readers, lane, control socket, health and systemd (docs/install.md).

Modules: `run` (the daemon and its task tree), `readers` (supervised readers), `control`
(the control socket and its client), `health` (checks and the watchdog), `systemd`
(sd_notify), `clock` (the decision clock), `doctor` (`gate doctor`).
"""
