"""The statements a Ledger runs on its hot path and for settings: constant SQL, kept prepared
by the connection's statement cache (gate/cache/ledger.py)."""

# Each code's entitlements, and whether any has a successor to follow (rarely: a renewal, an
# admission from a voucher), in one statement.
RESOLVE = """
SELECT r.entitlement_id, EXISTS (SELECT 1 FROM entitlement s WHERE s.predecessor = r.entitlement_id)
FROM reference r WHERE r.code = ?
"""
# A code's entitlements with their bodies and their holders' in one statement: the hot
# path's usual case.
FIND = """
SELECT e.kind, e.body, EXISTS (SELECT 1 FROM entitlement s WHERE s.predecessor = r.entitlement_id), h.body
FROM reference r JOIN entitlement e ON e.id = r.entitlement_id
LEFT JOIN record h ON h.type = 'holder' AND h.id = e.holder
WHERE r.code = ?
"""
SUCCESSOR = "SELECT id FROM entitlement WHERE predecessor = ? ORDER BY purchased_at DESC, id DESC LIMIT 1"
ENTITLEMENT = "SELECT kind, body FROM entitlement WHERE id = ?"
CREDIT_MEMBERSHIPS = """
SELECT body FROM entitlement WHERE holder = ? AND kind = 'credit_membership' ORDER BY purchased_at, id
"""
RECORD = "SELECT body FROM record WHERE type = ? AND id = ?"
KEYS = "SELECT body FROM record WHERE type = 'key' ORDER BY id"
ALL_STAFF = "SELECT body FROM record WHERE type = 'staff' ORDER BY id"
# Folded committed uses are one contiguous run of `usage`; the rest are in the tail.
# This gate's committed uses (folded), then its peers' (gate/cache/peers.py): committed, and
# held until their hold expires (?2: now, epoch seconds). With a `since` (?3), the committed
# ones from then on only, as the tail gives this gate's own.
USES = """
SELECT entitlement_id, at, direction, persons, credits, performance, event, benefit, lane, zone, 0
FROM usage WHERE entitlement_id = ?1
UNION ALL
SELECT entitlement_id, at, direction, persons, credits, performance, event, benefit, lane, zone, held
FROM peer_use WHERE entitlement_id = ?1 AND (held = 0 OR expires > ?2)
"""
USES_SINCE = """
SELECT entitlement_id, at, direction, persons, credits, performance, event, benefit, lane, zone, 0
FROM usage WHERE entitlement_id = ?1 AND at >= ?3
UNION ALL
SELECT entitlement_id, at, direction, persons, credits, performance, event, benefit, lane, zone, 0
FROM peer_use WHERE entitlement_id = ?1 AND held = 0 AND at >= ?3
"""
REVISION = "SELECT value FROM meta WHERE key = 'revision'"
GET_META = "SELECT value FROM meta WHERE key = ?"
PUT_SETTING = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
# Device settings live beside the ledger's own meta keys, in a namespace of their own.
SETTING_PREFIX = "setting."
REVOKED = "SELECT 1 FROM record WHERE type = 'revocation' AND id = ?"
TOUCH = "UPDATE meta SET value = value WHERE key = 'format'"
