"""The embedded demo: a config and a ledger of every entitlement kind, dated around today."""
