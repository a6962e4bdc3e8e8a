"""What volunteer moderators work with, kept durably: flags (cases), their accounts and sessions,
sanctions and the audit log.

- `flags`: the records (`Flag`, `FlagDraft`, `Sanction`, `AuditEntry`, ...) and the
  `ModerationStore` contract, with a flag's life from open to resolved.
- `flag_codec`: how those records are written as fields and JSON, shared by both stores.
- `store_sqlite`: the embedded default (one process, a file under HARBOR_DATA_DIR).
- `store_redis`: the shared store, for many workers on one Redis.
- `passwords`: moderator password hashing and session tokens.

The pure moderation core (text in, verdict out) is `moderation/`, which imports nothing from
here; this package does I/O and may import `rooms` (its batching) but never `server`.
"""
