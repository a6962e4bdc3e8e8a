"""server/audit_words.py: the audit log as a volunteer reads it -- actions in words, the case
named by severity, writer and room title, details without ids."""

from __future__ import annotations

from casework.flags import AuditEntry, FlagDraft, new_flag
from server.audit_words import ACTION_WORDS, article, in_words, minutes_words, subject

DRAFT = FlagDraft(
    key="k",
    room="newcomers",
    message_id=7,
    uid="u1",
    name="Calm Heron 12",
    text="words",
    categories=("suicide",),
    severity="imminent",
    spans=(),
    lexicon_version="1",
    context=(),
    source="classifier",
    held=False,
    created_ms=1,
)
FLAG = new_flag("9d5ad748134f2ef5", DRAFT)
TITLES = {"newcomers": "Newcomers"}


def entry(action: str, target: str, **detail: object) -> AuditEntry:
    return AuditEntry(1, "alice", action, target, "", dict(detail))


def test_a_flag_is_named_by_severity_writer_and_room_title_with_the_right_article() -> None:
    words = subject(entry("claim", FLAG.id), {FLAG.id: FLAG}, TITLES.get)
    assert words == "an imminent flag about Calm Heron 12 in Newcomers"
    assert article("high") == "a" and article("imminent") == "an"


def test_a_check_in_and_a_forgotten_case_are_never_shown_by_id() -> None:
    shown = in_words(
        entry("checkin", "0123456789abcdef", room="checkin-441abcdef012"), {}, TITLES.get
    )
    assert shown["subject"] == "a case no longer kept"
    assert "checkin-" not in str({k: shown[k] for k in ("action_text", "subject", "detail_text")})
    assert shown["action_text"] == "Invited to a private check-in"


def test_details_read_as_words() -> None:
    shown = in_words(entry("mute", FLAG.id, minutes=60, until_ms=5), {FLAG.id: FLAG}, TITLES.get)
    assert shown["detail_text"] == "for 1 hour" and shown["action_text"] == "Paused their messages"
    resolved = in_words(entry("resolve", FLAG.id, outcome="false_alarm"), {}, TITLES.get)
    assert resolved["detail_text"] == "outcome: false alarm"
    refused = in_words(entry("sign_in_refused", "moderator", count=3), {}, TITLES.get)
    assert refused == refused | {"subject": "", "detail_text": "3 attempts"}
    assert minutes_words(10080) == "1 week" and minutes_words(90) == "90 minutes"


def test_every_action_the_server_audits_has_words() -> None:
    for action in ("sign_in", "sign_out", "claim", "release", "resolve", "escalate", "hide"):
        assert action in ACTION_WORDS
    for action in ("release_held", "warn", "mute", "ban", "checkin", "reopen"):
        assert action in ACTION_WORDS
