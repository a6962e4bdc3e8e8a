"""server/backup_call.py's pure part: what a backup call says, how it is signed, how often it is
retried."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace

import pytest

from casework.flags import FlagDraft, new_flag
from server.backup_call import (
    backup_document,
    encode_document,
    retry_pauses,
    signature,
    signed_headers,
)
from server.metrics import BACKUP_CALL_RESULTS, Metrics

DRAFT = FlagDraft(
    key="msg:newcomers:u1:c1",
    room="newcomers",
    message_id=7,
    uid="3f2a9c",
    name="Calm Heron 12",
    text="the pills are lined up and i'm taking them all tonight",
    categories=("suicide", "overdose"),
    severity="imminent",
    spans=(),
    lexicon_version="2024.1",
    context=({"id": 6, "from": "Quiet Fox 2", "text": "hang in there", "ts": 1},),
    source="classifier",
    held=True,
    created_ms=1_700_000_000_000,
)


def test_the_document_says_which_flag_how_urgent_and_how_long_never_who_or_what() -> None:
    flag = new_flag("9d5ad748134f2ef5", DRAFT)
    document = backup_document(flag, now_ms=DRAFT.created_ms + 125_400, target_ms=60_000, on_duty=0)
    assert document["flag"] == "9d5ad748134f2ef5" and document["severity"] == "imminent"
    assert document["waiting_s"] == 125 and document["target_s"] == 60
    assert document["categories"] == ["suicide", "overdose"]
    body = encode_document(document).decode()
    for private in (DRAFT.text, "pills", DRAFT.name, DRAFT.uid, "Quiet Fox", "hang in there"):
        assert private not in body


def test_a_check_in_room_is_not_named_by_its_identity_derived_id() -> None:
    flag = new_flag("9d5ad748134f2ef5", replace(DRAFT, room="checkin-0123456789ab"))
    document = backup_document(flag, now_ms=DRAFT.created_ms, target_ms=60_000, on_duty=1)
    assert document["room"] == "a private check-in"


def test_the_signature_is_an_hmac_of_timestamp_and_body_that_changes_with_either() -> None:
    body = b'{"flag":"x"}'
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("k", 1_700_000_000, body) == f"sha256={expected}"
    assert signature("k", 1_700_000_001, body) != signature("k", 1_700_000_000, body)
    assert signature("k", 1_700_000_000, body + b" ") != signature("k", 1_700_000_000, body)
    headers = signed_headers("k", 1_700_000_000, body)
    assert headers["X-Harbor-Timestamp"] == "1700000000"
    assert headers["Content-Type"] == "application/json"


def test_retries_pause_longer_each_time_and_never_past_thirty_seconds() -> None:
    assert retry_pauses(1) == ()
    assert retry_pauses(5) == (1.0, 2.0, 4.0, 8.0)
    assert max(retry_pauses(20)) == 30.0 and len(retry_pauses(20)) == 19


def test_the_body_is_compact_sorted_json() -> None:
    assert (
        encode_document({"b": 1, "a": [1]})
        == json.dumps({"a": [1], "b": 1}).replace(" ", "").encode()
    )


@pytest.mark.parametrize("result", BACKUP_CALL_RESULTS)
def test_every_call_result_is_exported_at_zero_before_any_call(result: str) -> None:
    """The alert on failed or deferred calls is an increase; a series that first appears at 1
    never shows one, so each result is there from the start."""
    value = Metrics().registry.get_sample_value("harbor_backup_calls_total", {"result": result})
    assert value == 0
