"""A broker that checks who is who, as docs/mqtt.md sets it up: the documented ACL (read from the
page itself, so what an operator copies is what is tested), password files of mode 0600, and a CA
and broker certificate as an operator's own PKI would issue them."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
from collections.abc import Iterator, Mapping
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.sync.broker import Broker
from tests.sync.conftest import Site

DOCS = Path(__file__).parents[2] / "docs"


def documented_acl(site: str = "s1") -> str:
    """The ACL of docs/mqtt.md, for `site`."""
    text = (DOCS / "mqtt.md").read_text()
    block = text.split("`/etc/mosquitto/gate.acl`", 1)[1].split("```\n", 2)[1]
    return block.replace("gate/v1/louvre/", f"gate/v1/{site}/")


ACL = documented_acl()


def secret(site: Site, name: str, value: str) -> str:
    """A password file of mode 0600 in the site's folder; its name, for a config."""
    path = site.dir / f"{name}.password"
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path.name


@contextlib.contextmanager
def guarded_site(directory: Path, users: Mapping[str, str], acl: str = ACL) -> Iterator[Site]:
    """A site on a broker with these users (name: password) and the documented ACL."""
    broker = Broker(users=dict(users), acl=acl)
    broker.start()
    site = Site(directory, broker)
    try:
        yield site
    finally:
        site.kill_all()
        broker.close()


def broker_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a broker certificate for 127.0.0.1: (ca.crt, broker.crt, broker.key) in `directory`."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gate test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "broker")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    paths = directory / "ca.crt", directory / "broker.crt", directory / "broker.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))  # fmt: skip
    return paths
