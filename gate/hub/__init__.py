"""`gate hub`: the back-office bridge. It collects every device's events exactly once and confirms
them, and publishes the ledger's signed batches down and answers catch-up (docs/sync.md).

    store.py    the hub's store behind one small interface (`HubStore`); SQLite now
    publish.py  `gate hub publish FILE`: a back-office file into the log, as signed batches
    service.py  the MQTT side: events in, marks out; batches, the head, catch-up answers
"""
