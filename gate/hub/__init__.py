"""`gate hub`: the back-office bridge. It collects every device's events exactly once and confirms
them, and publishes the ledger's signed batches down and answers catch-up (docs/sync.md).

    store.py    the hub's store behind one small interface (`HubStore`); SQLite now
    publish.py  `gate hub publish FILE`: a back-office file into the log, as signed batches
    service.py  the MQTT side: events in, marks out; batches, the head, catch-up answers
    inbox.py    the watched folder: the back office's files published, moved to done/ or failed/
    files.py    each published file's digest with its batches: a file is published once
    erasure.py  a holder erased: events pseudonymised, the log's records cut (docs/privacy.md)
    status.py   each device's presence and health, kept for reports
    reports.py  `gate hub report WHAT`: the site's figures per day or range (docs/hub.md)
"""
