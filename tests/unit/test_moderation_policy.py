"""Policy: what the room sees, who gets support, who is told what, per room configuration."""

from __future__ import annotations

from functools import cache

import pytest

from moderation import (
    DEFAULT_POLICY,
    Action,
    Category,
    Lexicon,
    Notice,
    RoomPolicy,
    Severity,
    load_lexicon,
    moderate,
)


@cache
def lexicon() -> Lexicon:
    return load_lexicon()


ACTIONS = [
    ("see you all at the 6pm meeting", Action.DELIVER),
    ("i want to die", Action.DELIVER_WITH_SUPPORT),
    ("my husband choked me again", Action.DELIVER_WITH_SUPPORT),
    ("the rope is ready and I picked the spot", Action.HOLD_WITH_SUPPORT),
    ("you're a worthless loser", Action.HOLD),
    ("selling percs cheap, dm me", Action.HOLD),
    ("FREE giveaway, click here: win.example.com", Action.HOLD),
    ("text me at 555-0100 anytime", Action.REDACT),
]


@pytest.mark.parametrize(("text", "action"), ACTIONS)
def test_default_policy_action(text: str, action: Action) -> None:
    """each kind of message gets the default room action."""
    assert moderate(text, lexicon()).action is action


def test_crisis_is_delivered_with_support_and_flagged() -> None:
    """someone reaching out is heard by the room, supported, and seen by a moderator."""
    verdict = moderate("i can't do this anymore, i want to die", lexicon())
    assert verdict.delivered_text == "i can't do this anymore, i want to die"
    assert verdict.support and verdict.flag and verdict.is_crisis


def test_method_detail_is_held_behind_a_placeholder() -> None:
    """method or means detail is held; the writer still gets support; the room a placeholder."""
    verdict = moderate("the pills are lined up and everyone is asleep soon", lexicon())
    assert verdict.action is Action.HOLD_WITH_SUPPORT
    assert verdict.method_detail and verdict.support
    assert verdict.delivered_text is None
    assert verdict.placeholder == DEFAULT_POLICY.crisis_placeholder
    assert verdict.notice is Notice.HELD_WITH_SUPPORT


def test_room_may_deliver_method_detail() -> None:
    """a room that does not hold method detail delivers it with support."""
    policy = RoomPolicy(hold_method_detail=False)
    verdict = moderate("the pills are lined up and everyone is asleep soon", lexicon(), policy)
    assert verdict.action is Action.DELIVER_WITH_SUPPORT
    assert verdict.placeholder is None


def test_held_community_harm_tells_the_writer() -> None:
    """harassment is held pending review and the writer is told so."""
    verdict = moderate("shut up you pathetic junkie", lexicon())
    assert verdict.delivered_text is None
    assert verdict.notice is Notice.HELD_FOR_REVIEW
    assert not verdict.support


def test_personal_data_is_redacted_before_delivery() -> None:
    """phone numbers and e-mails are replaced, the rest of the text kept."""
    text = "call (614) 555-0100 or mail jo.x@example.org, after 6"
    verdict = moderate(text, lexicon())
    assert verdict.action is Action.REDACT
    assert verdict.notice is Notice.PII_REDACTED
    assert verdict.delivered_text == "call [removed] or mail [removed], after 6"


def test_crisis_with_personal_data_is_redacted_and_supported() -> None:
    """a crisis message is delivered with support, but its phone number is still redacted."""
    verdict = moderate("i want to die, call me 555-0199", lexicon())
    assert verdict.action is Action.DELIVER_WITH_SUPPORT
    assert verdict.delivered_text == "i want to die, call me [removed]"


def test_room_may_keep_personal_data() -> None:
    """with redaction off, the text is delivered as written and still flagged."""
    verdict = moderate("text me 555-0100", lexicon(), RoomPolicy(redact_pii=False))
    assert verdict.action is Action.DELIVER
    assert verdict.delivered_text == "text me 555-0100"
    assert verdict.flag


def test_watch_level_crisis_is_flagged_but_not_counted() -> None:
    """a crisis word lowered by context stays visible to moderators without support."""
    verdict = moderate("I'm not suicidal, just sad", lexicon())
    assert verdict.categories == ()
    assert verdict.watch == (Category.SUICIDE,)
    assert verdict.severity is Severity.WATCH
    assert verdict.flag and not verdict.support
    assert verdict.action is Action.DELIVER


def test_support_threshold_is_configurable() -> None:
    """a room may send support frames only from high severity on."""
    policy = RoomPolicy(support_from=Severity.HIGH)
    assert not moderate("i'm a burden to everyone", lexicon(), policy).support
    assert moderate("i want to die", lexicon(), policy).support


@pytest.mark.parametrize(
    "kwargs",
    [{"held_categories": frozenset({Category.SUICIDE})}, {"support_from": Severity.WATCH}],
)
def test_policy_refuses_to_silence_crisis(kwargs: dict[str, object]) -> None:
    """a room policy cannot hold crisis categories outright or support at watch."""
    with pytest.raises(ValueError, match="crisis|watch"):
        RoomPolicy(**kwargs)  # type: ignore[arg-type]


def test_verdict_serialises_enums_as_names() -> None:
    """JSON output uses exactly the category, severity and action names."""
    data = moderate("i want to die", lexicon()).to_json()
    assert data["categories"] == ["suicide"]
    assert data["severity"] == "high"
    assert data["action"] == "deliver_with_support"
    assert isinstance(data["categories"][0], str)


def test_moderate_refuses_non_text() -> None:
    """a caller passing bytes gets a TypeError, not a silent verdict."""
    with pytest.raises(TypeError):
        moderate(b"hello", lexicon())  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["", "hello", "see you at 6 ✨"])
def test_delivered_verdict_is_the_plain_construction(raw: str) -> None:
    """``delivered`` (slots filled directly, for speed) equals the dataclass construction of
    a verdict with no signal, field by field, and decide gives it for no signals."""
    from moderation import Verdict
    from moderation.normalize import normalize
    from moderation.policy import decide, delivered

    expected = Verdict((), None, Action.DELIVER, (), "v1", False, False, raw)
    assert delivered(raw, "v1") == expected
    assert delivered(raw, "v1").to_json() == expected.to_json()
    assert decide(normalize(raw), (), "v1", DEFAULT_POLICY) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "five years ago I overdosed in a parking lot",
        "I can't do this anymore, I have the pills lined up and everyone is asleep",
        "call me at (614) 555-0133 or email me at someone@example.com after the meeting",
        "selling my leftover percs cheap, dm me if you need some for the weekend",
        "he hit me again tonight and I'm hiding in the bathroom with my phone",
    ],
)
def test_decided_verdict_and_spans_are_the_plain_construction(raw: str) -> None:
    """``decide`` fills verdicts and spans through their slots, for speed: each equals the
    dataclass construction from the same fields (``replace`` runs ``__init__``), so no
    field is left unset or differs."""
    from dataclasses import replace

    verdict = moderate(raw, lexicon())
    assert verdict.categories or verdict.watch
    assert verdict == replace(verdict)
    assert verdict.to_json() == replace(verdict).to_json()
    assert verdict.spans
    for span in verdict.spans:
        assert span == replace(span)
        assert hash(span) == hash(replace(span))
