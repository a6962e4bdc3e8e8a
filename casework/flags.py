"""The durable side of moderation: flags, moderators, sessions, audit log, sanctions.

Contract shared by `store_sqlite.SqliteModerationStore` (the embedded default: one process, a
file under HARBOR_DATA_DIR, so a restart loses nothing) and `store_redis.RedisModerationStore`
(many workers). One contract test suite runs unchanged against both.

A flag moves open -> claimed (one owner; others see who) -> resolved with an outcome. The first
claim since it was raised (or reopened) sets `claimed_ms`, and the stores are built with the
`ResponseTargets` that set its due times and when a crisis flag calls the backup list. A claim is a
lease: the owner's connection renews it; when the owner goes away (disconnects, or their worker
dies) the lease runs out and `lapse_expired` returns the flag to open. Every open flag has a due
time by severity; `take_overdue` hands each overdue flag to exactly one caller (across workers)
and moves its due time on, so it re-alerts everyone once per period until someone claims it.

Reports: every report of one message shares one key, so reports fold into one flag. Into an open
or claimed flag a report only counts (`reports`). A report of a message whose flag is already
resolved reopens that flag: back to open (no owner, no outcome), the report counted, due again by
its severity from the report's time, `reopened_ms` set, its time-to-a-human fields
(`claimed_ms`, `first_words_ms`, `backup_ms`) cleared and the backup due again; the earlier
resolution stays in the audit log. So a new report always reaches a moderator, and one message is
still one case. A classifier raise with a resolved flag's key (a resent message) changes nothing.

What a moderator did to the message is recorded on its flag: `released` (a held message was
published; `released_id` is the id of the published copy) and `hidden` (the message the flag is
about -- the released copy once released -- was removed from the room). Who did it and when is in
the audit log, not on the flag.

No flag is ever dropped: raising is idempotent by `key` (a resent message or report never doubles
a flag), and nothing here expires an unresolved flag. Resolved flags and audit entries are kept
for a retention period, then removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol

from .roles import Role
from .rota import Shift


class FlagState(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"


class Outcome(StrEnum):
    SUPPORTED = "supported"
    REFERRED = "referred"
    FALSE_ALARM = "false_alarm"
    USER_LEFT = "user_left"
    ESCALATED = "escalated"
    DUPLICATE = "duplicate"
    # An appeal's decision (casework/appeals.py): only the `decide` action resolves with these.
    UPHELD = "upheld"
    LIFTED = "lifted"
    SHORTENED = "shortened"


# Severity names (moderation.verdict.Severity values) by urgency, most urgent first.
SEVERITY_ORDER = ("imminent", "high", "concern", "watch")
# How long an open flag may wait before everyone is alerted again, by severity: the defaults of
# `ResponseTargets` (imminent and high are settings: HARBOR_TARGET_IMMINENT_S, _HIGH_S).
DUE_AFTER_MS: Mapping[str, int] = MappingProxyType(
    {
        "imminent": 60_000,
        "high": 5 * 60_000,
        "concern": 15 * 60_000,
        "watch": 60 * 60_000,
    }
)
# Severities where a person may be in danger: measured for time to a human, and past their
# target plus the backup delay, a backup list is called (server/backup_call.py).
CRISIS_SEVERITIES = ("imminent", "high")


@dataclass(frozen=True, slots=True)
class ResponseTargets:
    """How long a flag may wait for a human, by severity, and what happens past it.

    Past its target an open flag re-alerts every moderator on duty, once per target period
    (`take_overdue`). A crisis flag (`CRISIS_SEVERITIES`) that nobody has claimed
    `backup_after_ms` past its target is handed out once to call the backup list
    (`take_unanswered`): re-alerting first gives whoever is on duty the first chance, and the
    phone of a coordinator who is not rings only when that chance went by.
    """

    due_after_ms: Mapping[str, int] = field(default_factory=lambda: DUE_AFTER_MS)
    backup_after_ms: int = 60_000

    def target_ms(self, severity: str) -> int:
        return self.due_after_ms.get(severity, self.due_after_ms["watch"])

    def realert_after_ms(self, severity: str, *, escalated: bool) -> int:
        """An escalated flag is treated as imminent from then on (`ModerationStore.escalate`:
        "raised to imminent-due"), whatever its classifier severity."""
        return self.target_ms("imminent" if escalated else severity)

    def backup_due_ms(self, severity: str, since_ms: int) -> int:
        """When a flag waiting since `since_ms` calls the backup list; 0: never."""
        if severity not in CRISIS_SEVERITIES:
            return 0
        return since_ms + self.target_ms(severity) + self.backup_after_ms


DEFAULT_TARGETS = ResponseTargets()


class Raised(StrEnum):
    """What `raise_or_fold` did with a draft."""

    CREATED = "created"  # a new flag
    EXISTING = "existing"  # the key's flag, unchanged (a resent classifier raise)
    REPORTED = "reported"  # a report counted into the key's open or claimed flag
    REOPENED = "reopened"  # a report of a resolved flag's message reopened it


class FlagError(Exception):
    """A flag operation that can't be done; `code` is safe to show a moderator."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ClaimConflict(FlagError):
    """Someone else holds the claim (or the flag is resolved)."""

    def __init__(self, owner: str | None, state: FlagState) -> None:
        super().__init__("claimed_by_other", f"flag is {state}" + (f" by {owner}" if owner else ""))
        self.owner = owner
        self.state = state


@dataclass(frozen=True, slots=True)
class FlagDraft:
    """What the server raises. `key` makes raising idempotent (room:uid:client_id, or a report
    key). `message_id` is None for a held message that never reached the room."""

    key: str
    room: str
    message_id: int | None
    uid: str
    name: str
    text: str
    categories: tuple[str, ...]
    severity: str
    spans: tuple[dict[str, Any], ...]
    lexicon_version: str
    context: tuple[dict[str, Any], ...]  # a few earlier messages: {"id","from","text","ts"}
    source: str  # "classifier" or "report"
    held: bool
    created_ms: int
    reason: str = ""  # the reporter's words, for reports
    # Kinds of personal detail taken out of `text` and the context ("phone", "email", ...):
    # the flag keeps the words as the room saw them, not what was removed.
    removed: tuple[str, ...] = ()
    # For an appeal of a sanction (source "appeal"): the sanction appealed (kind, until_ms,
    # reason, by: who gave it, case: the flag it was given on; casework/appeals.py); else empty.
    appeal: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (tuples become lists): the one place drafts are serialised."""
        return {
            "key": self.key,
            "room": self.room,
            "message_id": self.message_id,
            "uid": self.uid,
            "name": self.name,
            "text": self.text,
            "categories": list(self.categories),
            "severity": self.severity,
            "spans": list(self.spans),
            "lexicon_version": self.lexicon_version,
            "context": list(self.context),
            "source": self.source,
            "held": self.held,
            "created_ms": self.created_ms,
            "reason": self.reason,
            "removed": list(self.removed),
            "appeal": dict(self.appeal),
        }


@dataclass(frozen=True, slots=True)
class Flag:
    id: str
    draft: FlagDraft
    state: FlagState = FlagState.OPEN
    owner: str | None = None
    lease_until_ms: int = 0
    due_ms: int = 0
    outcome: Outcome | None = None
    note: str = ""
    escalated: bool = False
    released: bool = False  # a held message released to the room by a moderator
    updated_ms: int = 0
    resolved_ms: int = 0
    reports: int = 0  # extra reports of the same message folded into this flag
    hidden: bool = False  # its message (the released copy, once released) was hidden
    released_id: int | None = None  # the id the released message was published with
    reopened_ms: int = 0  # when a report last reopened it after it was resolved; 0: never
    # Time to a human, since it was raised (or reopened): its first claim, a volunteer's first
    # words to the person (a check-in message, or its owner's reply in the room), when the
    # backup list is due to be called if nobody claims it, and when it was called. 0: not yet.
    claimed_ms: int = 0
    first_words_ms: int = 0
    backup_due_ms: int = 0
    backup_ms: int = 0
    # The case around the person: the private check-in room a volunteer opened with them ("":
    # none yet), so every dashboard shows it beside the case, across reloads; and when a
    # volunteer followed up after the writer came back (0: not yet).
    checkin_room: str = ""
    followed_up_ms: int = 0

    @property
    def waiting_since_ms(self) -> int:
        """Raised, or reopened by a report after it was resolved: when the wait began."""
        return max(self.draft.created_ms, self.reopened_ms)

    @property
    def room_message_id(self) -> int | None:
        """The message in the room that shows this flag's words (or its placeholder): what
        hiding removes. Once a held message is released, that is the released copy."""
        return self.released_id if self.released else self.draft.message_id

    @property
    def urgency(self) -> tuple[int, int]:
        """Sort key: most severe first, then oldest first."""
        return (SEVERITY_ORDER.index(self.draft.severity), self.draft.created_ms)

    def to_json(self) -> dict[str, Any]:
        """For moderators: the flag's state and its draft, less the dedupe key and the uid
        (moderators act on a flag, never on an identity directly)."""
        shown = {k: v for k, v in self.draft.to_dict().items() if k not in ("key", "uid")}
        return {
            "id": self.id,
            "state": self.state,
            "owner": self.owner,
            "outcome": self.outcome,
            "note": self.note,
            "escalated": self.escalated,
            "released": self.released,
            "due_ms": self.due_ms,
            "updated_ms": self.updated_ms,
            "resolved_ms": self.resolved_ms,
            "reports": self.reports,
            "hidden": self.hidden,
            "released_id": self.released_id,
            "reopened_ms": self.reopened_ms,
            "claimed_ms": self.claimed_ms,
            "first_words_ms": self.first_words_ms,
            "backup_ms": self.backup_ms,
            "checkin_room": self.checkin_room,
            "followed_up_ms": self.followed_up_ms,
            **shown,
        }


def new_flag(flag_id: str, draft: FlagDraft, targets: ResponseTargets = DEFAULT_TARGETS) -> Flag:
    """A freshly raised flag, due by its severity's target."""
    return Flag(
        id=flag_id,
        draft=draft,
        due_ms=draft.created_ms + targets.target_ms(draft.severity),
        updated_ms=draft.created_ms,
        backup_due_ms=targets.backup_due_ms(draft.severity, draft.created_ms),
    )


def reopened(flag: Flag, now_ms: int) -> Flag:
    return replace(flag, state=FlagState.OPEN, owner=None, lease_until_ms=0, updated_ms=now_ms)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Append-only: who did what to which flag/identity, when, and why. Never message text."""

    at_ms: int
    moderator: str
    action: str
    target: str  # a flag id, "uid:<id>", "room:<id>"
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "at_ms": self.at_ms,
            "moderator": self.moderator,
            "action": self.action,
            "target": self.target,
            "reason": self.reason,
            "detail": self.detail,
        }


# How many resolved flags one search may read (the newest in its date window): a bound on what a
# search costs the store (casework/case_search.py). A window holding more is narrowed by dates.
SEARCH_SCAN_LIMIT = 5000


@dataclass(frozen=True, slots=True)
class CaseQuery:
    """Every field optional: "" (or 0 for times) matches anything. `to_ms` is exclusive."""

    room: str = ""
    category: str = ""
    outcome: str = ""
    from_ms: int = 0
    to_ms: int = 0

    def matches(self, flag: Flag) -> bool:
        draft = flag.draft
        return (
            flag.state is FlagState.RESOLVED
            and (not self.room or draft.room == self.room)
            and (not self.category or self.category in draft.categories)
            and (not self.outcome or flag.outcome == self.outcome)
            and flag.resolved_ms >= self.from_ms
            and (not self.to_ms or flag.resolved_ms < self.to_ms)
        )

    @property
    def upper_ms(self) -> int | None:
        """The last resolved time inside the window, or None when it is open-ended."""
        return self.to_ms - 1 if self.to_ms else None


# The subject of shift hand-over notes; every other note's subject is a flag id.
HANDOVER = "handover"


@dataclass(frozen=True, slots=True)
class CaseNote:
    """A volunteer's note on a case (`subject` is the flag id), or a hand-over note at the end
    of a shift (`subject` is `HANDOVER`). Moderators' own words, never the person's: they stay
    out of the audit log, which records only that a note was added."""

    at_ms: int
    moderator: str
    subject: str
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"at_ms": self.at_ms, "moderator": self.moderator, "text": self.text}


@dataclass(frozen=True, slots=True)
class Sanction:
    """A mute or ban of an anonymous identity (its uid), until a time.

    A ban also holds the network its person connected from against new identities: that hold is
    a ban whose `uid` is the source's key (a keyed hash, never an address: server/sources.py)
    and whose `held_for` names the banned uid. Each ban's hold is its own record, so lifting or
    shortening one ban (`ModerationStore.end_holds`) moves only the holds it placed."""

    uid: str
    kind: str  # "mute" or "ban"
    until_ms: int
    by: str
    reason: str = ""
    held_for: str = ""


@dataclass(frozen=True, slots=True)
class Revocation:
    """The anonymous tokens of identity `uid` issued before `before_ms` no longer open it: a ban
    retired them, so the identity stays closed after the ban ends. Kept until `until_ms`, by when
    every such token has expired on its own (`HARBOR_TOKEN_IDLE_DAYS`)."""

    uid: str
    before_ms: int
    until_ms: int


class ModerationStore(Protocol):
    # Flags
    async def raise_flag(self, draft: FlagDraft) -> tuple[Flag, bool]:
        """Store a flag (idempotent by draft.key). Returns (flag, created). A second raise with the
        same key returns the existing flag with created=False (reports increment `reports`, and
        reopen a resolved flag: see `raise_or_fold`)."""
        ...

    async def raise_or_fold(self, draft: FlagDraft) -> tuple[Flag, Raised]:
        """`raise_flag`, saying what happened, atomically: a new flag (CREATED); a report counted
        into the key's open or claimed flag (REPORTED); a report reopening the key's resolved
        flag (REOPENED: state open, owner and outcome cleared, reports + 1, due by its severity
        from `draft.created_ms`, `reopened_ms` = `draft.created_ms`); or nothing changed
        (EXISTING: a non-report draft whose key has a flag, whatever its state)."""
        ...

    async def get_flag(self, flag_id: str) -> Flag | None: ...

    async def flag_by_key(self, key: str) -> Flag | None:
        """The flag raised with idempotency key `key` (an appeal's, to tell its status)."""
        ...

    async def list_flags(self, *, include_resolved: bool = False, limit: int = 200) -> list[Flag]:
        """Open and claimed flags (and recent resolved ones if asked), most urgent first."""
        ...

    async def next_open(self) -> Flag | None:
        """The most urgent open flag (severity, then age)."""
        ...

    async def claim(self, flag_id: str, moderator: str, now_ms: int, lease_ms: int) -> Flag:
        """Atomically claim an OPEN flag (or renew one's own claim); raises ClaimConflict."""
        ...

    async def release(self, flag_id: str, moderator: str, now_ms: int) -> Flag:
        """Return one's own claim to open; raises FlagError if not the owner."""
        ...

    async def resolve(
        self, flag_id: str, moderator: str, outcome: Outcome, note: str, now_ms: int
    ) -> Flag:
        """Resolve a flag the moderator has claimed (or an open one: claim-and-resolve)."""
        ...

    async def escalate(self, flag_id: str, moderator: str, note: str, now_ms: int) -> Flag:
        """Mark escalated (stays open/claimed, raised to imminent-due now)."""
        ...

    async def mark_released(self, flag_id: str, message_id: int, now_ms: int) -> Flag:
        """Record that the held message of this flag was released to its room as `message_id`.
        Clears `hidden`: the room now shows the words in that new message."""
        ...

    async def mark_hidden(self, flag_id: str, now_ms: int) -> Flag:
        """Record that the flag's message in the room (`Flag.room_message_id`) was hidden."""
        ...

    async def renew_leases(self, moderator: str, now_ms: int, lease_ms: int) -> int:
        """Extend every claim this moderator holds (their connection is alive)."""
        ...

    async def lapse_expired(self, now_ms: int) -> list[Flag]:
        """Claims whose lease ran out go back to open; returns them (once, to one caller)."""
        ...

    async def take_overdue(self, now_ms: int) -> list[Flag]:
        """Open flags past due, each handed to exactly one caller, due time moved on."""
        ...

    async def take_unanswered(self, now_ms: int) -> list[Flag]:
        """Open crisis flags nobody has claimed since they were raised (or reopened), whose
        `backup_due_ms` has come: each handed to exactly one caller, once, with `backup_ms` set
        to `now_ms` (the caller calls the backup list)."""
        ...

    async def mark_first_words(self, flag_id: str, now_ms: int) -> Flag | None:
        """Record a volunteer's first words to the flag's writer: the flag with `first_words_ms`
        set, to exactly one caller; None when it had them already, is resolved or is gone."""
        ...

    # Moderators and sessions
    async def add_moderator(self, name: str, password_hash: str) -> None:
        """Create or replace (password change) a moderator account. A new password ends every
        session signed in with the old one."""
        ...

    async def remove_moderator(self, name: str) -> bool:
        """Delete the account and end its sessions; False if there was none."""
        ...

    async def password_hash(self, name: str) -> str | None: ...

    async def moderator_names(self) -> list[str]: ...

    async def role_of(self, name: str) -> Role | None:
        """The account's role (`DEFAULT_ROLE` when none was ever set); None: no such account."""
        ...

    async def set_role(self, name: str, role: Role) -> bool:
        """Record the account's role; False (and nothing recorded) when there is no account.
        Removing the account removes its role: a re-created account starts as the default."""
        ...

    async def create_session(self, token_hash: str, name: str, expires_ms: int) -> None: ...

    async def session_owner(self, token_hash: str, now_ms: int) -> str | None: ...

    async def end_session(self, token_hash: str) -> None: ...

    async def remember_claim(self, token_hash: str, flag_id: str, until_ms: int) -> None:
        """Note that the session `token_hash` claimed `flag_id` (kept until `until_ms`, the
        session's longest life), so signing out of that session releases only its claims."""
        ...

    async def take_session_claims(self, token_hash: str) -> list[str]:
        """The flags the session claimed, forgotten as they are read (at its sign-out)."""
        ...

    # The rota
    async def set_shifts(self, moderator: str, shifts: list[Shift]) -> None:
        """Replace `moderator`'s weekly shifts (an empty list takes them off the rota)."""
        ...

    async def shifts(self) -> list[Shift]:
        """Every moderator's shifts, by moderator then as set."""
        ...

    # Audit log
    async def audit(self, entry: AuditEntry) -> None: ...

    async def audit_log(self, limit: int = 200) -> list[AuditEntry]:
        """Newest first."""
        ...

    # Sanctions
    async def sanction(self, sanction: Sanction) -> None: ...

    async def active_sanctions(self, uid: str, now_ms: int) -> list[Sanction]: ...

    async def end_sanction(self, sanction: Sanction, until_ms: int) -> bool:
        """Move the end of `sanction` (matched by uid, kind and until_ms) to `until_ms`: an
        appeal decided as lifted (the end is now) or shortened. False when no such sanction."""
        ...

    async def end_holds(self, uid: str, placed_until_ms: int, until_ms: int) -> int:
        """Bring forward to `until_ms` every network hold that the ban of `uid` ending at
        `placed_until_ms` placed (sanctions with `held_for` = uid and that end): the ban was
        lifted on appeal (`until_ms` is now) or shortened. Holds placed by any other ban, of
        this identity or another, stay as they are. Returns how many holds moved."""
        ...

    async def first_to_mark(self, key: str, now_ms: int, until_ms: int) -> bool:
        """True for exactly one caller (across workers) per `key` until `until_ms`: something
        done once, such as warning coordinators of one rota gap."""
        ...

    # Token revocations
    async def revoke_tokens(self, revocation: Revocation) -> None:
        """Record a revocation. With one already recorded for the uid, the later `before_ms` and
        the later `until_ms` are kept: a revocation is never narrowed or shortened."""
        ...

    async def tokens_revoked_before(self, uid: str, now_ms: int) -> int:
        """`before_ms` of the revocation of `uid` that is still kept at `now_ms`, or 0."""
        ...

    async def lift_revocation(self, uid: str) -> None:
        """Forget the revocation of `uid`: a ban lifted on appeal gives the person their name
        back (the only way a revocation is ever narrowed)."""
        ...

    # The case around the person
    async def mark_checkin(self, flag_id: str, room: str, now_ms: int) -> Flag:
        """Record the private check-in room opened with the flag's writer (any state: a
        follow-up check-in may come after the case was resolved)."""
        ...

    async def mark_followed_up(self, flag_id: str, now_ms: int) -> Flag:
        """Record that a volunteer followed up on the writer's return (`followed_up_ms`)."""
        ...

    async def add_note(self, note: CaseNote) -> None: ...

    async def notes(self, subject: str, limit: int = 100) -> list[CaseNote]:
        """The notes on `subject` (a flag id, or `HANDOVER`), newest first; the same time
        orders by the later append first."""
        ...

    async def search_resolved(self, query: CaseQuery, limit: int = 100) -> list[Flag]:
        """Resolved flags matching `query`, most recently resolved first: at most `limit`, from
        among at most `SEARCH_SCAN_LIMIT` resolved in the query's date window (the newest)."""
        ...

    async def forget_message(self, room: str, message_id: int) -> int:
        """Take message `message_id` of `room` out of every flag's earlier messages (its writer
        deleted it); returns how many flags changed. A flag about that message keeps it."""
        ...

    # Housekeeping
    async def prune(self, now_ms: int, retention_ms: int) -> int:
        """Remove resolved flags and audit entries older than the retention; returns how many.
        A pruned flag's notes go with it, and hand-over notes older than the retention go too
        (not counted)."""
        ...

    async def aclose(self) -> None: ...
