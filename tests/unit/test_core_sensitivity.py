"""The sensitive-subject mark: one word per message, from the verdict, computed at publish."""

from __future__ import annotations

from pathlib import Path

import pytest

from moderation import load_lexicon, moderate
from rooms.envelope import SENSITIVE_KINDS, Posted
from server.gate import MessageGate
from server.protocol import history_item, message_event
from server.sensitivity import sensitive_kind, verdict_kind

from .test_core_gate import WRITER, make_gate, room

LEXICON = load_lexicon()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("I want to die, I can't do this anymore", "suicide"),
        ("I cut myself again last night", "self_harm"),
        ("I used to cut myself years ago, not anymore", "self_harm"),  # watch-level still folds
        ("I'm going to use tonight, I already have it", "using"),
        ("I relapsed yesterday and used heroin", "using"),
        ("made it to my meeting tonight, 40 days", ""),
        ("anyone else find mornings the hardest part?", ""),
    ],
)
def test_a_verdict_names_the_subject_a_reader_may_fold(text: str, kind: str) -> None:
    """verdict_kind gives the message's sensitive subject, or "" for ordinary talk."""
    assert verdict_kind(moderate(text, LEXICON)) == kind


def test_the_most_serious_subject_wins_and_every_kind_is_one_the_envelope_reads() -> None:
    """suicide before self-harm before using; each kind is one the envelope carries."""
    assert sensitive_kind(["relapse", "self_harm", "suicide"]) == "suicide"
    assert sensitive_kind(["overdose", "self_harm"]) == "self_harm"
    assert sensitive_kind(["harassment", "spam", "pii"]) == ""
    kinds = {sensitive_kind([c]) for c in ("suicide", "self_harm", "overdose", "relapse")}
    assert kinds == SENSITIVE_KINDS


def test_the_message_frame_carries_the_mark_and_nothing_else_of_the_verdict() -> None:
    """message and history frames gain `sensitive` (and `badge`) only when set."""
    plain = Posted("r", 1, "e", 5, "u", "Calm Heron 1", "hi")
    marked = Posted("r", 2, "e", 5, "u", "Calm Heron 1", "words", "", "self_harm", "30d")
    assert "sensitive" not in message_event(plain, "a") and "badge" not in history_item(plain, "a")
    frame = message_event(marked, "a")
    assert (frame["sensitive"], frame["badge"]) == ("self_harm", "30d")
    assert set(frame) == {
        "type",
        "room",
        "id",
        "from",
        "author",
        "text",
        "ts",
        "sensitive",
        "badge",
    }
    item = history_item(marked, "a")
    assert (item["sensitive"], item["badge"]) == ("self_harm", "30d")


async def stored(gate: MessageGate, text: str, client_id: str) -> Posted:
    await gate.submit(WRITER, room(), text, client_id, tell=lambda frame: None)
    broker = gate._context.broker
    history = await broker.history(room(), since=None, client_epoch=None, limit=1)
    message: Posted = history.messages[-1]
    return message


async def test_the_gate_marks_a_delivered_crisis_once_when_it_publishes(tmp_path: Path) -> None:
    """The published (and stored) message carries its subject; history gives it back."""
    gate, _ = make_gate(tmp_path)
    message = await stored(gate, "I want to die, I can't do this anymore", "c1")
    assert (message.note, message.sensitive) == ("", "suicide")
    message = await stored(gate, "made it to my meeting tonight, 40 days", "c2")
    assert message.sensitive == ""


async def test_a_held_placeholder_is_not_marked(tmp_path: Path) -> None:
    """The room sees a gentle note in place of held words: nothing to fold there."""
    gate, _ = make_gate(tmp_path)
    text = "I took the whole bottle of pills an hour ago and my lips are going numb"
    message = await stored(gate, text, "c3")
    assert (message.note, message.sensitive) == ("held", "")
