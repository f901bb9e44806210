"""Provisioning: a new device made a member of a venue (`gate provision`, docs/scale.md).

- venue.py    the venue file: what every device of a venue shares
- template.py the device's config from the venue's template, validated as `gate config check` does
- pki.py      the operator's CA: device and broker certificates, the CRL
- broker.py   the broker's password file (mosquitto_passwd) and its reload (SIGHUP)
- state.py    what the venue provisioned, under a lock
- bundle.py   the tar file a device is given, and its installation on the device
- flow.py     the steps of `gate provision device|revoke|crl|init`, in an order that never half-applies
"""
