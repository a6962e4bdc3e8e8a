"""The gate, driven without sockets: a recording broker and store log each effect in order.

What the gate promises a writer in crisis: the support frame first, before anything that can
fail; then the message (or its placeholder) published; then the flag stored; and the ack only
once the flag is stored -- or, when it can't be, a retryable refusal and no ack at all.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from casework.flags import Flag, FlagDraft
from casework.store_sqlite import SqliteModerationStore
from moderation import Lexicon, load_lexicon
from moderation.learned import LearnedModel
from rooms.broker import History, HistoryLimits, Receipt
from rooms.broker_memory import MemoryBroker
from rooms.catalog import Catalog
from rooms.envelope import Draft
from rooms.hub import LocalHub
from rooms.presence import MemoryPresence
from server.context import WorkerContext, wall_clock_ms
from server.gate import GateUnavailable, MessageGate, Refused
from server.identity import Identity, IdentityIssuer
from server.meeting_book import MeetingBook
from server.protocol import CODECS, Report, room_encoder
from server.registry import Registry
from server.settings import Secret, Settings
from server.sources import SourceKeys
from server.support import load_resources

CRISIS = "I took the whole bottle of pills an hour ago and my lips are going numb"
DELIVERED_CRISIS = "I want to die, I can't do this anymore"
ORDINARY = "made it to my meeting tonight, 40 days"
SPAM = "FREE crypto giveaway!!! click example.com/win now, dm me for the link, limited offer"
WRITER = Identity(uid="u1", token="t", name="Calm Heron 7")
NOW_MS = wall_clock_ms()  # fixed for the run; the broker trims history by real age


class RecordingBroker(MemoryBroker):
    def __init__(self, log: list[str]) -> None:
        super().__init__(HistoryLimits())
        self.log = log

    async def publish(self, room: str, draft: Draft) -> Receipt:
        self.log.append(f"publish:{draft.note or 'text'}")
        return await super().publish(room, draft)

    async def announce(self, room: str, body: bytes) -> None:
        self.log.append(f"announce:{room}")
        await super().announce(room, body)

    async def history(
        self, room: str, *, since: int | None, client_epoch: str | None, limit: int
    ) -> History:
        self.log.append("history")
        return await super().history(room, since=since, client_epoch=client_epoch, limit=limit)


class RecordingStore(SqliteModerationStore):
    def __init__(self, path: Path, log: list[str], *, failing: bool = False) -> None:
        super().__init__(path)
        self.log = log
        self.failing = failing

    async def raise_flag(self, draft: FlagDraft) -> tuple[Flag, bool]:
        if self.failing:
            self.log.append("flag:failed")
            raise OSError("disk gone")
        flagged = await super().raise_flag(draft)
        self.log.append(f"flag:{draft.severity}")
        return flagged


def make_gate(
    tmp_path: Path, *, failing_store: bool = False, lexicon: Lexicon | None = None
) -> tuple[MessageGate, list[str]]:
    log: list[str] = []
    broker = RecordingBroker(log)
    catalog = Catalog.load()
    context = WorkerContext(
        settings=Settings(secret=Secret("unit")),
        catalog=catalog,
        broker=broker,
        hub=LocalHub(
            broker, room_encoder(IdentityIssuer("unit").author_tag), codecs=CODECS, join_buffer=16
        ),
        presence=MemoryPresence(broker),
        identities=IdentityIssuer("unit"),
        worker_id="w1",
        lexicon=lexicon or load_lexicon(),
        store=RecordingStore(tmp_path / "store.sqlite3", log, failing=failing_store),
        resources=load_resources(None),
        source_keys=SourceKeys("unit"),
        meeting_book=MeetingBook(catalog),
        clock=lambda: NOW_MS,
    )
    return MessageGate(context, Registry()), log


def room() -> str:
    return next(iter(Catalog.load())).id


async def test_a_crisis_gets_support_then_publish_then_flag_then_the_ack(tmp_path: Path) -> None:
    gate, log = make_gate(tmp_path)
    told: list[dict[str, Any]] = []

    def tell(frame: dict[str, Any]) -> None:
        told.append(frame)
        log.append(f"tell:{frame['type']}")

    outcome = await gate.submit(WRITER, room(), CRISIS, "c1", tell=tell)
    effects = [e for e in log if not e.startswith(("history", "announce"))]
    assert effects[0] == "tell:support"
    assert effects[1].startswith("publish:")
    assert effects[2].startswith("flag:")
    assert log.index("announce:@moderators") > log.index(effects[2])
    assert [frame["type"] for frame in outcome.frames] == ["ack"]
    assert outcome.frames[0]["client_id"] == "c1"
    assert told[0]["room"] == room() and told[0]["on_duty"] is False


async def test_a_flag_that_cannot_be_stored_refuses_the_ack(tmp_path: Path) -> None:
    gate, log = make_gate(tmp_path, failing_store=True)
    told: list[dict[str, Any]] = []
    with pytest.raises(GateUnavailable):
        await gate.submit(WRITER, room(), CRISIS, "c1", tell=told.append)
    assert [frame["type"] for frame in told] == ["support"]  # help came before the failure
    assert "flag:failed" in log and "announce:@moderators" not in log


async def test_an_ordinary_message_is_published_and_acked_without_a_flag(tmp_path: Path) -> None:
    gate, log = make_gate(tmp_path)
    told: list[dict[str, Any]] = []
    outcome = await gate.submit(WRITER, room(), ORDINARY, "c2", tell=told.append)
    assert told == []
    assert log == ["publish:text"]
    assert outcome.frames[0]["type"] == "ack" and outcome.cooldown_s == 0


async def test_spam_returns_the_cooldown_instead_of_a_verdict(tmp_path: Path) -> None:
    gate, _ = make_gate(tmp_path)
    outcome = await gate.submit(WRITER, room(), SPAM, "c3", tell=lambda frame: None)
    assert outcome.cooldown_s == Settings(secret=Secret("unit")).spam_cooldown_s > 0


async def test_a_muted_crisis_still_reaches_a_moderator_but_not_the_room(tmp_path: Path) -> None:
    gate, log = make_gate(tmp_path)
    told: list[dict[str, Any]] = []
    outcome = await gate.submit(WRITER, room(), CRISIS, "c4", tell=told.append, muted=True)
    assert [frame["type"] for frame in told] == ["support"]
    assert not any(e.startswith("publish") for e in log)
    assert any(e.startswith("flag:") for e in log)
    assert [frame.get("code") for frame in outcome.frames] == ["muted"]


async def reported_flags(gate: MessageGate) -> list[Flag]:
    flags = await gate._context.store.list_flags()
    return [flag for flag in flags if flag.draft.source == "report"]


async def test_a_report_of_a_crisis_keeps_its_severity(tmp_path: Path) -> None:
    gate, _ = make_gate(tmp_path)
    here = room()
    # Delivered to the room with support (a held one would leave only its placeholder there).
    outcome = await gate.submit(WRITER, here, DELIVERED_CRISIS, "c5", tell=lambda frame: None)
    await gate.report(Report(room=here, id=outcome.frames[0]["id"], reason="worried"))
    (flag,) = await reported_flags(gate)
    assert flag.draft.severity not in ("concern", "watch")
    assert flag.draft.reason == "worried" and not flag.draft.held


async def test_a_report_of_an_ordinary_message_is_a_concern(tmp_path: Path) -> None:
    gate, _ = make_gate(tmp_path)
    here = room()
    outcome = await gate.submit(WRITER, here, ORDINARY, "c6", tell=lambda frame: None)
    await gate.report(Report(room=here, id=outcome.frames[0]["id"], reason=""))
    (flag,) = await reported_flags(gate)
    assert flag.draft.severity == "concern" and flag.draft.categories == ()


async def test_a_report_of_a_message_no_longer_there_is_refused(tmp_path: Path) -> None:
    gate, _ = make_gate(tmp_path)
    with pytest.raises(Refused):
        await gate.report(Report(room=room(), id=999, reason=""))


async def test_timestamps_come_from_the_context_clock(tmp_path: Path) -> None:
    gate, _ = make_gate(tmp_path)
    here = room()
    await gate.submit(WRITER, here, ORDINARY, "c7", tell=lambda frame: None)
    history = await gate._context.broker.history(here, since=None, client_epoch=None, limit=5)
    assert [message.ts for message in history.messages] == [NOW_MS]


def half_risky_lexicon() -> Lexicon:
    """The shipped rules with a toy learned stage: "tonight" makes a message an even chance
    of being about suicide (risk 0.5, under the flag threshold of 0.7)."""
    toy = LearnedModel.from_json(
        {
            "version": "toy",
            "lexicon_version": "toy",
            "classes": ["none", "suicide"],
            "bias": [0.0, 0.0],
            "weights": {},
            "thresholds": {"flag": 0.7, "high": 0.9, "quiet": 0.99, "quiet_high": 0.99},
        }
    )
    return replace(load_lexicon(), model=toy)


async def test_weaker_signals_from_one_person_close_together_raise_a_crisis(
    tmp_path: Path,
) -> None:
    """the first half-risky message is delivered as it is; the second, from the same person a
    minute later, gets the support frame and a flag; another person's first one does not."""
    gate, log = make_gate(tmp_path, lexicon=half_risky_lexicon())
    here = room()
    told: list[dict[str, Any]] = []
    await gate.submit(WRITER, here, "so exhausted tonight", "k1", tell=told.append)
    assert told == [] and not any(e.startswith("flag:") for e in log)
    await gate.submit(WRITER, here, "nobody is home tonight", "k2", tell=told.append)
    assert [frame["type"] for frame in told] == ["support"]
    assert "flag:concern" in log
    (flag,) = await gate._context.store.list_flags()
    assert flag.draft.categories == ("suicide",)
    other = Identity(uid="u2", token="t", name="Quiet Owl 3")
    told.clear()
    await gate.submit(other, here, "so exhausted tonight", "k3", tell=told.append)
    assert told == []
