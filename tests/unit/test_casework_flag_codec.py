"""casework.flag_codec: what moderators did to a flag's message, and when a report reopened it,
survive both storage forms and reach the dashboard's JSON."""

from __future__ import annotations

from dataclasses import replace

import pytest

from casework.flag_codec import (
    STATE_FIELDS,
    CodecError,
    flag_from_dict,
    flag_from_fields,
    flag_to_dict,
    flag_to_fields,
)
from casework.flags import Flag, FlagDraft, FlagState, Outcome, new_flag

DRAFT = FlagDraft(
    key="report:newcomers:7",
    room="newcomers",
    message_id=7,
    uid="u1",
    name="Calm Heron 1",
    text="placeholder words",
    categories=("harassment",),
    severity="concern",
    spans=(),
    lexicon_version="2024.1",
    context=(),
    source="report",
    held=True,
    created_ms=1_700_000_000_000,
    reason="mean",
)


def marked() -> Flag:
    return replace(
        new_flag("0123456789abcdef", DRAFT),
        state=FlagState.RESOLVED,
        owner="ana",
        outcome=Outcome.SUPPORTED,
        released=True,
        released_id=12,
        hidden=True,
        reopened_ms=1_700_000_100_000,
        reports=2,
    )


def test_hidden_released_id_and_reopened_ms_are_state_fields() -> None:
    assert {"hidden", "released_id", "reopened_ms"} <= set(STATE_FIELDS)


@pytest.mark.parametrize("flag", [new_flag("0123456789abcdef", DRAFT), marked()])
def test_both_storage_forms_round_trip_every_field(flag: Flag) -> None:
    assert flag_from_dict(flag_to_dict(flag)) == flag
    assert flag_from_fields(flag_to_fields(flag)) == flag
    # As Redis gives a hash back: every value as bytes.
    as_bytes = {k: str(v).encode() for k, v in flag_to_fields(flag).items()}
    assert flag_from_fields(as_bytes) == flag


def test_flat_fields_store_no_released_id_as_zero_and_flags_as_integers() -> None:
    fields = flag_to_fields(new_flag("0123456789abcdef", DRAFT))
    assert (fields["hidden"], fields["released_id"], fields["reopened_ms"]) == (0, 0, 0)
    fields = flag_to_fields(marked())
    assert (fields["hidden"], fields["released_id"]) == (1, 12)


def test_flags_stored_before_these_fields_existed_read_as_not_hidden_not_reopened() -> None:
    flag = marked()
    fields = flag_to_fields(flag)
    document = flag_to_dict(flag)
    for name in ("hidden", "released_id", "reopened_ms"):
        del fields[name]
        del document[name]
    for old in (flag_from_fields(fields), flag_from_dict(document)):
        assert not old.hidden and old.released_id is None and old.reopened_ms == 0
        assert old.released and old.reports == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [("hidden", 1), ("hidden", None), ("released_id", "12"), ("released_id", True)],
)
def test_a_mistyped_new_field_is_refused(name: str, value: object) -> None:
    document = flag_to_dict(marked())
    document[name] = value
    with pytest.raises(CodecError, match=name):
        flag_from_dict(document)


def test_the_dashboard_json_says_hidden_released_id_and_reopened_ms() -> None:
    shown = marked().to_json()
    assert shown["hidden"] is True and shown["released_id"] == 12
    assert shown["reopened_ms"] == 1_700_000_100_000
    assert shown["message_id"] == 7
    assert "uid" not in shown and "key" not in shown


def test_the_room_message_of_a_released_flag_is_its_released_copy() -> None:
    flag = new_flag("0123456789abcdef", DRAFT)
    assert flag.room_message_id == 7
    assert replace(flag, released=True, released_id=12).room_message_id == 12
    never_in_room = replace(flag, draft=replace(DRAFT, message_id=None))
    assert never_in_room.room_message_id is None
