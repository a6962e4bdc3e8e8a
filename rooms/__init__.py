"""Rooms: the catalog, the local fan-out hub, and the brokers that carry them between workers.

`catalog` (which rooms exist, with their moderation policy), `envelope` (a message as it is
stored and published, encoded once), `broker` (the interface; `broker_memory` and
`broker_redis` implement it, `broker_url` picks one by URL), `hub` (the members of each room on
this worker and the fan-out to their sockets), `history` (pure resume decisions), `presence`
and `presence_redis` (who is here), `batching` and `redis_direct` (Redis round trips shared or
made cheaper). Imports nothing from `server` or `casework`.
"""
