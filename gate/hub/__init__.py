"""`gate hub`: the back-office bridge. It collects every device's events exactly once and confirms
them; later it publishes the ledger down and answers catch-up (docs/sync.md).

    store.py    the hub's store behind one small interface (`HubStore`); SQLite now
    service.py  the MQTT side: events in, high-water marks out
"""
