"""The embedded moderation store: one SQLite file under HARBOR_DATA_DIR, for a single process.

Why SQLite and why this way:
- A restart must lose nothing (an unresolved crisis flag is never dropped), so everything is on
  disk: flags, moderators, sessions, the audit log, sanctions, token revocations.
- WAL with synchronous=NORMAL: a commit is durable against a process crash (the case that
  matters for a restart) and costs no fsync per write; readers never block the writer.
- One connection, used only from the event loop's thread. Every method is one short transaction
  (BEGIN IMMEDIATE for writes, so a read-then-write can never interleave with another writer,
  e.g. the CLI on the same file), fast enough to run on the loop directly instead of paying a
  thread hop per call. Each method first awaits an anyio checkpoint: it yields to other tasks and
  a cancellation lands before the write, never after a commit whose result would be lost.
- Flags keep their state fields as columns (indexed for the queue queries) and the immutable draft
  as JSON; the mapping lives in `flag_codec`, shared with the Redis store.
- `schema_version` records the layout; a file from a newer Harbor is refused, not misread, and a
  file from an older one is upgraded in place when opened (`_MIGRATIONS`).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import anyio.lowlevel

from casework.flag_codec import (
    audit_from_json,
    audit_to_json,
    draft_from_json,
    draft_to_json,
    flag_from_fields,
    flag_to_fields,
    note_from_json,
    note_to_json,
    sanction_from_dict,
    severity_rank,
    without_message,
)
from casework.flags import (
    DEFAULT_TARGETS,
    HANDOVER,
    SEARCH_SCAN_LIMIT,
    AuditEntry,
    CaseNote,
    CaseQuery,
    ClaimConflict,
    Flag,
    FlagDraft,
    FlagError,
    FlagState,
    Outcome,
    Raised,
    ResponseTargets,
    Revocation,
    Sanction,
    new_flag,
)
from casework.roles import DEFAULT_ROLE, Role, parse_role
from casework.rota import Shift, shifts_from_json, shifts_to_json

SCHEMA_VERSION = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS flags (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    draft TEXT NOT NULL,
    severity_rank INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'claimed', 'resolved')),
    owner TEXT NOT NULL DEFAULT '',
    lease_until_ms INTEGER NOT NULL DEFAULT 0,
    due_ms INTEGER NOT NULL,
    outcome TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    escalated INTEGER NOT NULL DEFAULT 0,
    released INTEGER NOT NULL DEFAULT 0,
    updated_ms INTEGER NOT NULL,
    resolved_ms INTEGER NOT NULL DEFAULT 0,
    reports INTEGER NOT NULL DEFAULT 0,
    hidden INTEGER NOT NULL DEFAULT 0,
    released_id INTEGER NOT NULL DEFAULT 0,
    reopened_ms INTEGER NOT NULL DEFAULT 0,
    claimed_ms INTEGER NOT NULL DEFAULT 0,
    first_words_ms INTEGER NOT NULL DEFAULT 0,
    backup_due_ms INTEGER NOT NULL DEFAULT 0,
    backup_ms INTEGER NOT NULL DEFAULT 0,
    checkin_room TEXT NOT NULL DEFAULT '',
    followed_up_ms INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX IF NOT EXISTS flags_by_urgency ON flags (state, severity_rank, created_ms, id);
CREATE INDEX IF NOT EXISTS flags_by_due ON flags (state, due_ms);
CREATE INDEX IF NOT EXISTS flags_by_lease ON flags (state, lease_until_ms);
CREATE INDEX IF NOT EXISTS flags_by_owner ON flags (owner, state);
CREATE INDEX IF NOT EXISTS flags_by_resolved ON flags (state, resolved_ms);
CREATE TABLE IF NOT EXISTS moderators (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS rota (
    name TEXT PRIMARY KEY,
    shifts TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS roles (
    name TEXT PRIMARY KEY REFERENCES moderators (name) ON DELETE CASCADE,
    role TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL REFERENCES moderators (name) ON DELETE CASCADE,
    expires_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS session_claims (
    token_hash TEXT NOT NULL,
    flag_id TEXT NOT NULL,
    until_ms INTEGER NOT NULL,
    PRIMARY KEY (token_hash, flag_id)
) STRICT;
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    entry TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (at_ms, seq);
CREATE TABLE IF NOT EXISTS sanctions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL,
    kind TEXT NOT NULL,
    until_ms INTEGER NOT NULL,
    by TEXT NOT NULL,
    reason TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS sanctions_by_uid ON sanctions (uid, until_ms);
CREATE TABLE IF NOT EXISTS source_holds (
    seq INTEGER PRIMARY KEY,
    held_for TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS source_holds_by_ban ON source_holds (held_for);
CREATE TABLE IF NOT EXISTS notes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    note TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS notes_by_subject ON notes (subject, at_ms, seq);
CREATE TABLE IF NOT EXISTS marks (
    key TEXT PRIMARY KEY,
    until_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS revocations (
    uid TEXT PRIMARY KEY,
    before_ms INTEGER NOT NULL,
    until_ms INTEGER NOT NULL
) STRICT;
"""
# (A table added with IF NOT EXISTS needs no migration step, and an older Harbor opening the
# file simply does not read it, so adding one does not change SCHEMA_VERSION.)

_DAY_MS = 24 * 3600 * 1000

# Statements that bring a file of schema N-1 to N, by N; each runs once, in the transaction that
# checks the version.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: (
        "ALTER TABLE flags ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE flags ADD COLUMN released_id INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE flags ADD COLUMN reopened_ms INTEGER NOT NULL DEFAULT 0",
    ),
    3: (
        "ALTER TABLE flags ADD COLUMN claimed_ms INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE flags ADD COLUMN first_words_ms INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE flags ADD COLUMN backup_due_ms INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE flags ADD COLUMN backup_ms INTEGER NOT NULL DEFAULT 0",
    ),
    4: (
        "ALTER TABLE flags ADD COLUMN checkin_room TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE flags ADD COLUMN followed_up_ms INTEGER NOT NULL DEFAULT 0",
    ),
}

_LIVE_ORDER = "ORDER BY severity_rank, created_ms, id"
_RESOLVED_ORDER = "ORDER BY resolved_ms DESC, id DESC"


class SqliteModerationStore:
    """`casework.flags.ModerationStore` over one SQLite file; see the module docstring."""

    def __init__(self, path: Path, *, targets: ResponseTargets = DEFAULT_TARGETS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._targets = targets
        # Flags hold what people in crisis wrote: the file (and the -wal/-shm files SQLite
        # creates with the same mode) is readable by this user only.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        self._path = path
        # isolation_level=None: no implicit transactions; `_write`/`_read` open them explicitly.
        self._db: sqlite3.Connection | None = sqlite3.connect(path, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        try:
            self._open()
        except BaseException:
            self._db.close()
            self._db = None
            raise

    def _open(self) -> None:
        db = self._conn
        db.execute("PRAGMA busy_timeout = 5000")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"{self._path}: SQLite refused WAL mode ({mode})")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        with self._write() as tx:
            tx.executescript_statements(_SCHEMA)
            row = db.execute("SELECT max(version) FROM schema_version").fetchone()
            version = row[0]
            if version is None:
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self._path} has moderation schema {version}; this Harbor knows up to "
                    f"{SCHEMA_VERSION} (refusing to misread a newer file)"
                )
            elif version < SCHEMA_VERSION:
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS[step]:
                        db.execute(statement)
                db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the moderation store is closed")
        return self._db

    @contextmanager
    def _write(self) -> Iterator[_Tx]:
        """One write transaction: BEGIN IMMEDIATE takes the write lock up front, so the reads
        inside it see exactly what the writes will change."""
        db = self._conn
        db.execute("BEGIN IMMEDIATE")
        try:
            yield _Tx(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[_Tx]:
        """One read transaction, so a read of several statements sees one snapshot."""
        db = self._conn
        db.execute("BEGIN")
        try:
            yield _Tx(db)
        finally:
            db.execute("COMMIT")

    # Flags

    async def raise_flag(self, draft: FlagDraft) -> tuple[Flag, bool]:
        flag, raised = await self.raise_or_fold(draft)
        return flag, raised is Raised.CREATED

    async def raise_or_fold(self, draft: FlagDraft) -> tuple[Flag, Raised]:
        await anyio.lowlevel.checkpoint()
        rank = severity_rank(draft.severity)
        with self._write() as tx:
            existing = tx.flag_by_key(draft.key)
            if existing is not None:
                if draft.source != "report":
                    return existing, Raised.EXISTING
                tx.execute(
                    "UPDATE flags SET reports = reports + 1, "
                    "updated_ms = max(updated_ms, ?) WHERE id = ?",
                    (draft.created_ms, existing.id),
                )
                if existing.state is not FlagState.RESOLVED:
                    return tx.require(existing.id), Raised.REPORTED
                severity = existing.draft.severity
                period = self._targets.realert_after_ms(severity, escalated=existing.escalated)
                backup_due = self._targets.backup_due_ms(severity, draft.created_ms)
                tx.execute(
                    "UPDATE flags SET state = 'open', owner = '', lease_until_ms = 0, "
                    "outcome = '', resolved_ms = 0, due_ms = ?, reopened_ms = ?, claimed_ms = 0, "
                    "first_words_ms = 0, backup_ms = 0, backup_due_ms = ? WHERE id = ?",
                    (draft.created_ms + period, draft.created_ms, backup_due, existing.id),
                )
                return tx.require(existing.id), Raised.REOPENED
            while True:
                flag = new_flag(secrets.token_hex(8), draft, self._targets)
                if tx.flag(flag.id) is None:
                    break
            fields = flag_to_fields(flag) | {
                "key": draft.key,
                "severity_rank": rank,
                "created_ms": draft.created_ms,
            }
            names = ", ".join(fields)
            marks = ", ".join(f":{name}" for name in fields)
            tx.execute(f"INSERT INTO flags ({names}) VALUES ({marks})", fields)
            return flag, Raised.CREATED

    async def get_flag(self, flag_id: str) -> Flag | None:
        await anyio.lowlevel.checkpoint()
        with self._read() as tx:
            return tx.flag(flag_id)

    async def flag_by_key(self, key: str) -> Flag | None:
        await anyio.lowlevel.checkpoint()
        with self._read() as tx:
            return tx.flag_by_key(key)

    async def list_flags(self, *, include_resolved: bool = False, limit: int = 200) -> list[Flag]:
        """Unresolved flags most urgent first; then, if asked and room is left under `limit`,
        resolved ones most recently resolved first."""
        await anyio.lowlevel.checkpoint()
        if limit <= 0:
            return []
        with self._read() as tx:
            flags = tx.flags(f"WHERE state != 'resolved' {_LIVE_ORDER} LIMIT ?", (limit,))
            if include_resolved and len(flags) < limit:
                flags += tx.flags(
                    f"WHERE state = 'resolved' {_RESOLVED_ORDER} LIMIT ?", (limit - len(flags),)
                )
            return flags

    async def next_open(self) -> Flag | None:
        await anyio.lowlevel.checkpoint()
        with self._read() as tx:
            flags = tx.flags(f"WHERE state = 'open' {_LIVE_ORDER} LIMIT 1", ())
            return flags[0] if flags else None

    async def claim(self, flag_id: str, moderator: str, now_ms: int, lease_ms: int) -> Flag:
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            flag = tx.require(flag_id)
            if flag.state is FlagState.RESOLVED or (
                flag.state is FlagState.CLAIMED and flag.owner != moderator
            ):
                raise ClaimConflict(flag.owner, flag.state)
            tx.execute(
                "UPDATE flags SET state = 'claimed', owner = ?, lease_until_ms = ?, "
                "updated_ms = ?, claimed_ms = CASE WHEN claimed_ms = 0 THEN ? ELSE claimed_ms END "
                "WHERE id = ?",
                (moderator, now_ms + lease_ms, now_ms, now_ms, flag_id),
            )
            return tx.require(flag_id)

    async def release(self, flag_id: str, moderator: str, now_ms: int) -> Flag:
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            flag = tx.require(flag_id)
            _require_owner(flag, moderator)
            tx.execute(
                "UPDATE flags SET state = 'open', owner = '', lease_until_ms = 0, updated_ms = ? "
                "WHERE id = ?",
                (now_ms, flag_id),
            )
            return tx.require(flag_id)

    async def resolve(
        self, flag_id: str, moderator: str, outcome: Outcome, note: str, now_ms: int
    ) -> Flag:
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            flag = tx.require(flag_id)
            if flag.state is FlagState.RESOLVED:
                raise FlagError("already_resolved", f"flag {flag_id} is already resolved")
            if flag.state is FlagState.CLAIMED and flag.owner != moderator:
                raise ClaimConflict(flag.owner, flag.state)
            tx.execute(
                "UPDATE flags SET state = 'resolved', owner = ?, lease_until_ms = 0, outcome = ?, "
                "note = ?, resolved_ms = ?, updated_ms = ? WHERE id = ?",
                (moderator, str(Outcome(outcome)), note, now_ms, now_ms, flag_id),
            )
            return tx.require(flag_id)

    async def escalate(self, flag_id: str, moderator: str, note: str, now_ms: int) -> Flag:
        """Any moderator may escalate (it asks for more eyes, it takes nothing from the owner).
        A non-empty note replaces the flag's note, so whoever picks it up sees why."""
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            flag = tx.require(flag_id)
            if flag.state is FlagState.RESOLVED:
                raise FlagError("already_resolved", f"flag {flag_id} is already resolved")
            tx.execute(
                "UPDATE flags SET escalated = 1, due_ms = ?, updated_ms = ?, "
                "note = CASE WHEN ? = '' THEN note ELSE ? END WHERE id = ?",
                (now_ms, now_ms, note, note, flag_id),
            )
            return tx.require(flag_id)

    async def mark_released(self, flag_id: str, message_id: int, now_ms: int) -> Flag:
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            tx.require(flag_id)
            tx.execute(
                "UPDATE flags SET released = 1, released_id = ?, hidden = 0, updated_ms = ? "
                "WHERE id = ?",
                (message_id, now_ms, flag_id),
            )
            return tx.require(flag_id)

    async def mark_hidden(self, flag_id: str, now_ms: int) -> Flag:
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            tx.require(flag_id)
            tx.execute(
                "UPDATE flags SET hidden = 1, updated_ms = ? WHERE id = ?", (now_ms, flag_id)
            )
            return tx.require(flag_id)

    async def renew_leases(self, moderator: str, now_ms: int, lease_ms: int) -> int:
        """Every claim of `moderator` now runs to now+lease (never shortened), including one
        whose lease ran out but that `lapse_expired` has not returned yet: its owner is alive."""
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            cursor = tx.execute(
                "UPDATE flags SET lease_until_ms = max(lease_until_ms, ?) "
                "WHERE owner = ? AND state = 'claimed'",
                (now_ms + lease_ms, moderator),
            )
            return cursor.rowcount

    async def lapse_expired(self, now_ms: int) -> list[Flag]:
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            expired = tx.flags(
                f"WHERE state = 'claimed' AND lease_until_ms <= ? {_LIVE_ORDER}", (now_ms,)
            )
            tx.execute(
                "UPDATE flags SET state = 'open', owner = '', lease_until_ms = 0, updated_ms = ? "
                "WHERE state = 'claimed' AND lease_until_ms <= ?",
                (now_ms, now_ms),
            )
            return [tx.require(flag.id) for flag in expired]

    async def take_overdue(self, now_ms: int) -> list[Flag]:
        """Open flags due at or before `now_ms`, each with its due time moved to now plus its
        re-alert period, so the same `now_ms` never hands a flag out twice."""
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            overdue = tx.flags(f"WHERE state = 'open' AND due_ms <= ? {_LIVE_ORDER}", (now_ms,))
            for flag in overdue:
                period = self._targets.realert_after_ms(
                    flag.draft.severity, escalated=flag.escalated
                )
                tx.execute("UPDATE flags SET due_ms = ? WHERE id = ?", (now_ms + period, flag.id))
            return [tx.require(flag.id) for flag in overdue]

    async def take_unanswered(self, now_ms: int) -> list[Flag]:
        await anyio.lowlevel.checkpoint()
        where = (
            "WHERE state = 'open' AND backup_due_ms > 0 AND backup_due_ms <= ? "
            "AND claimed_ms = 0 AND backup_ms = 0"
        )
        with self._write() as tx:
            unanswered = tx.flags(f"{where} {_LIVE_ORDER}", (now_ms,))
            for flag in unanswered:
                tx.execute("UPDATE flags SET backup_ms = ? WHERE id = ?", (now_ms, flag.id))
            return [tx.require(flag.id) for flag in unanswered]

    async def mark_first_words(self, flag_id: str, now_ms: int) -> Flag | None:
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            changed = tx.execute(
                "UPDATE flags SET first_words_ms = ?, updated_ms = max(updated_ms, ?) "
                "WHERE id = ? AND state != 'resolved' AND first_words_ms = 0",
                (now_ms, now_ms, flag_id),
            ).rowcount
            return tx.require(flag_id) if changed else None

    # The case around the person

    async def mark_checkin(self, flag_id: str, room: str, now_ms: int) -> Flag:
        return await self._set(flag_id, "checkin_room", room, now_ms)

    async def mark_followed_up(self, flag_id: str, now_ms: int) -> Flag:
        return await self._set(flag_id, "followed_up_ms", now_ms, now_ms)

    async def _set(self, flag_id: str, column: str, value: str | int, now_ms: int) -> Flag:
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            tx.require(flag_id)
            tx.execute(
                f"UPDATE flags SET {column} = ?, updated_ms = max(updated_ms, ?) WHERE id = ?",
                (value, now_ms, flag_id),
            )
            return tx.require(flag_id)

    async def add_note(self, note: CaseNote) -> None:
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            tx.execute(
                "INSERT INTO notes (subject, at_ms, note) VALUES (?, ?, ?)",
                (note.subject, note.at_ms, note_to_json(note)),
            )

    async def notes(self, subject: str, limit: int = 100) -> list[CaseNote]:
        await anyio.lowlevel.checkpoint()
        if limit <= 0:
            return []
        with self._read() as tx:
            rows = tx.execute(
                "SELECT note FROM notes WHERE subject = ? ORDER BY at_ms DESC, seq DESC LIMIT ?",
                (subject, limit),
            ).fetchall()
        return [note_from_json(subject, row[0]) for row in rows]

    async def search_resolved(self, query: CaseQuery, limit: int = 100) -> list[Flag]:
        """Room and outcome narrow the read in SQL; `query.matches` decides, as in Redis."""
        await anyio.lowlevel.checkpoint()
        where = ["state = 'resolved'", "resolved_ms >= ?"]
        params: list[object] = [query.from_ms]
        if query.upper_ms is not None:
            where.append("resolved_ms <= ?")
            params.append(query.upper_ms)
        if query.room:
            where.append("json_extract(draft, '$.room') = ?")
            params.append(query.room)
        if query.outcome:
            where.append("outcome = ?")
            params.append(query.outcome)
        with self._read() as tx:
            scanned = tx.flags(
                f"WHERE {' AND '.join(where)} {_RESOLVED_ORDER} LIMIT ?",
                (*params, SEARCH_SCAN_LIMIT),
            )
        return [flag for flag in scanned if query.matches(flag)][: max(0, limit)]

    # Moderators and sessions

    async def add_moderator(self, name: str, password_hash: str) -> None:
        """An upsert; a changed password ends the account's sessions in the same transaction."""
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            changed = tx.execute(
                "SELECT 1 FROM moderators WHERE name = ? AND password_hash != ?",
                (name, password_hash),
            ).fetchone()
            tx.execute(
                "INSERT INTO moderators (name, password_hash) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash",
                (name, password_hash),
            )
            if changed:
                tx.execute("DELETE FROM sessions WHERE name = ?", (name,))

    async def remove_moderator(self, name: str) -> bool:
        """Sessions go with the account (ON DELETE CASCADE)."""
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            return tx.execute("DELETE FROM moderators WHERE name = ?", (name,)).rowcount > 0

    async def password_hash(self, name: str) -> str | None:
        await anyio.lowlevel.checkpoint()
        with self._read() as tx:
            row = tx.execute(
                "SELECT password_hash FROM moderators WHERE name = ?", (name,)
            ).fetchone()
            return None if row is None else str(row[0])

    async def moderator_names(self) -> list[str]:
        await anyio.lowlevel.checkpoint()
        with self._read() as tx:
            rows = tx.execute("SELECT name FROM moderators ORDER BY name").fetchall()
            return [str(row[0]) for row in rows]

    async def role_of(self, name: str) -> Role | None:
        await anyio.lowlevel.checkpoint()
        with self._read() as tx:
            row = tx.execute(
                "SELECT roles.role FROM moderators LEFT JOIN roles USING (name) "
                "WHERE moderators.name = ?",
                (name,),
            ).fetchone()
        if row is None:
            return None
        return DEFAULT_ROLE if row[0] is None else parse_role(row[0])

    async def set_role(self, name: str, role: Role) -> bool:
        """A role is its own table (added with IF NOT EXISTS: no migration; an older Harbor
        opening the file reads every account as it always did)."""
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            if tx.execute("SELECT 1 FROM moderators WHERE name = ?", (name,)).fetchone() is None:
                return False
            tx.execute(
                "INSERT INTO roles (name, role) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET role = excluded.role",
                (name, str(role)),
            )
            return True

    async def set_shifts(self, moderator: str, shifts: list[Shift]) -> None:
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            if shifts:
                tx.execute(
                    "INSERT INTO rota (name, shifts) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET shifts = excluded.shifts",
                    (moderator, shifts_to_json(shifts)),
                )
            else:
                tx.execute("DELETE FROM rota WHERE name = ?", (moderator,))

    async def shifts(self) -> list[Shift]:
        await anyio.lowlevel.checkpoint()
        with self._read() as tx:
            rows = tx.execute("SELECT name, shifts FROM rota ORDER BY name").fetchall()
        return [shift for name, text in rows for shift in shifts_from_json(str(name), text)]

    async def create_session(self, token_hash: str, name: str, expires_ms: int) -> None:
        """Raises ValueError for a moderator that does not exist (a caller bug: log in first)."""
        await anyio.lowlevel.checkpoint()
        try:
            with self._write() as tx:
                tx.execute(
                    "INSERT INTO sessions (token_hash, name, expires_ms) VALUES (?, ?, ?) "
                    "ON CONFLICT (token_hash) DO UPDATE SET name = excluded.name, "
                    "expires_ms = excluded.expires_ms",
                    (token_hash, name, expires_ms),
                )
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"no moderator named {name!r}") from exc

    async def session_owner(self, token_hash: str, now_ms: int) -> str | None:
        await anyio.lowlevel.checkpoint()
        with self._read() as tx:
            row = tx.execute(
                "SELECT name FROM sessions WHERE token_hash = ? AND expires_ms > ?",
                (token_hash, now_ms),
            ).fetchone()
            return None if row is None else str(row[0])

    async def end_session(self, token_hash: str) -> None:
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            tx.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    async def remember_claim(self, token_hash: str, flag_id: str, until_ms: int) -> None:
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            # Sessions last at most a day, so a row ending a day before this one's end is over.
            stale = until_ms - _DAY_MS
            tx.execute("DELETE FROM session_claims WHERE until_ms <= ?", (stale,))
            tx.execute(
                "INSERT OR REPLACE INTO session_claims (token_hash, flag_id, until_ms) "
                "VALUES (?, ?, ?)",
                (token_hash, flag_id, until_ms),
            )

    async def take_session_claims(self, token_hash: str) -> list[str]:
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            rows = tx.execute(
                "SELECT flag_id FROM session_claims WHERE token_hash = ? ORDER BY flag_id",
                (token_hash,),
            ).fetchall()
            tx.execute("DELETE FROM session_claims WHERE token_hash = ?", (token_hash,))
        return [str(row[0]) for row in rows]

    # Audit log

    async def audit(self, entry: AuditEntry) -> None:
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            tx.execute(
                "INSERT INTO audit (at_ms, entry) VALUES (?, ?)",
                (entry.at_ms, audit_to_json(entry)),
            )

    async def audit_log(self, limit: int = 200) -> list[AuditEntry]:
        """Newest first: by `at_ms`, and among equal times the later append first."""
        await anyio.lowlevel.checkpoint()
        if limit <= 0:
            return []
        with self._read() as tx:
            rows = tx.execute(
                "SELECT entry FROM audit ORDER BY at_ms DESC, seq DESC LIMIT ?", (limit,)
            ).fetchall()
        return [audit_from_json(row[0]) for row in rows]

    # Sanctions

    async def sanction(self, sanction: Sanction) -> None:
        """A network hold (`held_for` set) is also noted in source_holds, by the sanction's
        seq: the ban it was placed for finds exactly its own rows there."""
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            seq = tx.execute(
                "INSERT INTO sanctions (uid, kind, until_ms, by, reason) VALUES (?, ?, ?, ?, ?)",
                (sanction.uid, sanction.kind, sanction.until_ms, sanction.by, sanction.reason),
            ).lastrowid
            if sanction.held_for:
                tx.execute(
                    "INSERT INTO source_holds (seq, held_for) VALUES (?, ?)",
                    (seq, sanction.held_for),
                )

    async def active_sanctions(self, uid: str, now_ms: int) -> list[Sanction]:
        """Unexpired sanctions of `uid`, the longest-lasting first."""
        await anyio.lowlevel.checkpoint()
        with self._read() as tx:
            rows = tx.execute(
                "SELECT s.uid, s.kind, s.until_ms, s.by, s.reason, h.held_for FROM sanctions s "
                "LEFT JOIN source_holds h ON h.seq = s.seq "
                "WHERE s.uid = ? AND s.until_ms > ? ORDER BY s.until_ms DESC, s.seq DESC",
                (uid, now_ms),
            ).fetchall()
        return [sanction_from_dict(dict(row)) for row in rows]

    async def end_holds(self, uid: str, placed_until_ms: int, until_ms: int) -> int:
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            return tx.execute(
                "UPDATE sanctions SET until_ms = ? WHERE until_ms = ? AND until_ms > ? "
                "AND seq IN (SELECT seq FROM source_holds WHERE held_for = ?)",
                (until_ms, placed_until_ms, until_ms, uid),
            ).rowcount

    async def end_sanction(self, sanction: Sanction, until_ms: int) -> bool:
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            changed = tx.execute(
                "UPDATE sanctions SET until_ms = ? WHERE uid = ? AND kind = ? AND until_ms = ?",
                (until_ms, sanction.uid, sanction.kind, sanction.until_ms),
            ).rowcount
        return changed > 0

    async def first_to_mark(self, key: str, now_ms: int, until_ms: int) -> bool:
        await anyio.lowlevel.checkpoint()
        if until_ms <= now_ms:
            return False
        with self._write() as tx:
            tx.execute("DELETE FROM marks WHERE until_ms <= ?", (now_ms,))
            added = tx.execute(
                "INSERT OR IGNORE INTO marks (key, until_ms) VALUES (?, ?)", (key, until_ms)
            ).rowcount
        return added > 0

    # Token revocations

    async def revoke_tokens(self, revocation: Revocation) -> None:
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            tx.execute(
                "INSERT INTO revocations (uid, before_ms, until_ms) VALUES (?, ?, ?) "
                "ON CONFLICT (uid) DO UPDATE SET before_ms = max(before_ms, excluded.before_ms), "
                "until_ms = max(until_ms, excluded.until_ms)",
                (revocation.uid, revocation.before_ms, revocation.until_ms),
            )

    async def tokens_revoked_before(self, uid: str, now_ms: int) -> int:
        await anyio.lowlevel.checkpoint()
        with self._read() as tx:
            row = tx.execute(
                "SELECT before_ms FROM revocations WHERE uid = ? AND until_ms > ?", (uid, now_ms)
            ).fetchone()
        return int(row[0]) if row is not None else 0

    async def lift_revocation(self, uid: str) -> None:
        await anyio.lowlevel.checkpoint()
        with self._write() as tx:
            tx.execute("DELETE FROM revocations WHERE uid = ?", (uid,))

    async def forget_message(self, room: str, message_id: int) -> int:
        await anyio.lowlevel.checkpoint()
        changed = 0
        with self._write() as tx:
            rows = tx.execute(
                "SELECT id, draft FROM flags WHERE json_extract(draft, '$.room') = ?", (room,)
            ).fetchall()
            for flag_id, stored in rows:
                draft = draft_from_json(stored)
                kept = without_message(draft, message_id)
                if kept is not draft:
                    tx.execute(
                        "UPDATE flags SET draft = ? WHERE id = ?", (draft_to_json(kept), flag_id)
                    )
                    changed += 1
        return changed

    # Housekeeping

    async def prune(self, now_ms: int, retention_ms: int) -> int:
        """Removes resolved flags resolved, and audit entries written, before now - retention.
        The state = 'resolved' condition is the guarantee that no open or claimed flag, however
        old, is ever removed. Expired sessions, sanctions and revocations go too (not counted:
        they are not records anyone reads back)."""
        await anyio.lowlevel.checkpoint()
        cutoff = now_ms - retention_ms
        with self._write() as tx:
            flags = tx.execute(
                "DELETE FROM flags WHERE state = 'resolved' AND resolved_ms < ?", (cutoff,)
            ).rowcount
            entries = tx.execute("DELETE FROM audit WHERE at_ms < ?", (cutoff,)).rowcount
            tx.execute(
                "DELETE FROM notes WHERE (subject = ? AND at_ms < ?) "
                "OR (subject != ? AND subject NOT IN (SELECT id FROM flags))",
                (HANDOVER, cutoff, HANDOVER),
            )
            tx.execute("DELETE FROM sessions WHERE expires_ms <= ?", (now_ms,))
            tx.execute("DELETE FROM sanctions WHERE until_ms <= ?", (now_ms,))
            tx.execute("DELETE FROM source_holds WHERE seq NOT IN (SELECT seq FROM sanctions)")
            tx.execute("DELETE FROM revocations WHERE until_ms <= ?", (now_ms,))
            return flags + entries

    async def aclose(self) -> None:
        """Close the file (idempotent). A checkpoint of the WAL happens on the last close."""
        if self._db is not None:
            self._db.close()
            self._db = None


class _Tx:
    """Statements inside one transaction, with the flag reads every method needs."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(
        self, sql: str, params: Sequence[object] | Mapping[str, object] = ()
    ) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    def executescript_statements(self, script: str) -> None:
        # executescript() would COMMIT the open transaction first; run the statements one by one
        # so creating the schema is part of the same transaction as checking its version.
        for statement in script.split(";"):
            if statement.strip():
                self._db.execute(statement)

    def flags(self, where: str, params: tuple[object, ...]) -> list[Flag]:
        rows = self._db.execute(f"SELECT * FROM flags {where}", params).fetchall()
        return [flag_from_fields(dict(row)) for row in rows]

    def flag(self, flag_id: str) -> Flag | None:
        flags = self.flags("WHERE id = ?", (flag_id,))
        return flags[0] if flags else None

    def flag_by_key(self, key: str) -> Flag | None:
        flags = self.flags("WHERE key = ?", (key,))
        return flags[0] if flags else None

    def require(self, flag_id: str) -> Flag:
        flag = self.flag(flag_id)
        if flag is None:
            raise FlagError("not_found", f"no flag {flag_id}")
        return flag


def _require_owner(flag: Flag, moderator: str) -> None:
    if flag.state is FlagState.RESOLVED:
        raise FlagError("already_resolved", f"flag {flag.id} is already resolved")
    if flag.state is not FlagState.CLAIMED or flag.owner != moderator:
        raise FlagError("not_owner", f"flag {flag.id} is not claimed by {moderator}")
