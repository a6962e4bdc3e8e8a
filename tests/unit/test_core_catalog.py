"""rooms.catalog: the room catalog read from the shipped or an operator's rooms.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moderation.policy import DEFAULT_POLICY, RoomPolicy
from moderation.verdict import Category, Severity
from rooms.catalog import DEFAULT_ROOMS_FILE, Catalog, CatalogError, Room

DEFAULT_IDS = [
    "newcomers",
    "alcohol",
    "opioids",
    "stimulants",
    "family-friends",
    "relapse-prevention",
    "sober-living",
    "mental-health",
    "wins-milestones",
]


def write_rooms(tmp_path: Path, entries: object) -> Path:
    path = tmp_path / "rooms.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


def test_the_shipped_catalog_has_the_nine_default_rooms_in_order() -> None:
    """Catalog.load() reads the packaged rooms.json: nine rooms, in the documented order."""
    catalog = Catalog.load()
    assert [room.id for room in catalog] == DEFAULT_IDS
    assert len(catalog) == 9


def test_every_shipped_room_has_a_title_description_and_guidelines() -> None:
    """No default room is missing the text the lobby shows."""
    for room in Catalog.load():
        assert room.title.strip()
        assert room.description.strip()
        assert room.guidelines.strip()


def test_the_default_file_is_the_packaged_rooms_json() -> None:
    """Loading the default path explicitly gives the same catalog as load()."""
    assert DEFAULT_ROOMS_FILE.name == "rooms.json"
    assert [r.id for r in Catalog.load(DEFAULT_ROOMS_FILE)] == DEFAULT_IDS


def test_lookup_by_id_and_membership() -> None:
    """`in` and get() find rooms by id; unknown ids and non-strings are absent."""
    catalog = Catalog.load()
    assert "family-friends" in catalog
    assert "lobby" not in catalog
    assert 5 not in catalog
    room = catalog.get("family-friends")
    assert room is not None
    assert room.title == "Family & friends"
    assert catalog.get("lobby") is None


def test_a_custom_file_replaces_the_default_rooms(tmp_path: Path) -> None:
    """An operator's file defines exactly its own rooms; description and guidelines are optional."""
    path = write_rooms(
        tmp_path,
        [
            {"id": "gaming", "title": "Gaming", "description": "Screens", "guidelines": "Be kind"},
            {"id": "x" * 48, "title": "Long id"},
            {"id": "7-days", "title": "Seven days"},
        ],
    )
    catalog = Catalog.load(path)
    assert list(catalog) == [
        Room("gaming", "Gaming", "Screens", "Be kind"),
        Room("x" * 48, "Long id", "", ""),
        Room("7-days", "Seven days", "", ""),
    ]
    assert "newcomers" not in catalog


@pytest.mark.parametrize(
    "entries",
    [
        pytest.param({"id": "a", "title": "A"}, id="an object, not a list"),
        pytest.param("rooms", id="a string"),
        pytest.param([], id="an empty list"),
        pytest.param([{"id": "a", "title": "A"}, {"id": "a", "title": "B"}], id="duplicate ids"),
        pytest.param([{"id": "Newcomers", "title": "N"}], id="uppercase id"),
        pytest.param([{"id": "a/b", "title": "N"}], id="id with slash"),
        pytest.param([{"id": "", "title": "N"}], id="empty id"),
        pytest.param([{"id": "-a", "title": "N"}], id="id starting with a dash"),
        pytest.param([{"id": "x" * 49, "title": "N"}], id="id too long"),
        pytest.param([{"title": "No id"}], id="missing id"),
        pytest.param([{"id": 3, "title": "N"}], id="numeric id"),
        pytest.param([{"id": "a", "title": 5}], id="title not a string"),
        pytest.param([{"id": "a", "title": None}], id="null title"),
        pytest.param([{"id": "a", "title": "A", "description": ["x"]}], id="description list"),
        pytest.param([{"id": "a", "title": "A", "guidelines": 1}], id="guidelines number"),
        pytest.param(["newcomers"], id="entry not an object"),
    ],
)
def test_a_malformed_rooms_file_raises_catalog_error(tmp_path: Path, entries: object) -> None:
    """Wrong shapes, bad or duplicate ids and wrong field types raise CatalogError."""
    with pytest.raises(CatalogError):
        Catalog.load(write_rooms(tmp_path, entries))


def test_the_error_names_the_offending_entry(tmp_path: Path) -> None:
    """The message points at the entry's index and field."""
    path = write_rooms(tmp_path, [{"id": "ok", "title": "OK"}, {"id": "b", "title": 5}])
    with pytest.raises(CatalogError, match=r"room #1: 'title' must be a non-empty string"):
        Catalog.load(path)


def test_a_missing_file_raises_catalog_error(tmp_path: Path) -> None:
    """An absent rooms file raises CatalogError naming the path."""
    with pytest.raises(CatalogError, match="nope.json"):
        Catalog.load(tmp_path / "nope.json")


def test_a_directory_raises_catalog_error(tmp_path: Path) -> None:
    """Pointing HARBOR_ROOMS at a directory raises CatalogError."""
    with pytest.raises(CatalogError):
        Catalog.load(tmp_path)


def test_invalid_json_raises_catalog_error(tmp_path: Path) -> None:
    """A file that is not JSON raises CatalogError."""
    path = tmp_path / "rooms.json"
    path.write_text('[{"id": "a",', encoding="utf-8")
    with pytest.raises(CatalogError):
        Catalog.load(path)


def test_invalid_utf8_raises_catalog_error(tmp_path: Path) -> None:
    """A file that is not UTF-8 raises CatalogError."""
    path = tmp_path / "rooms.json"
    path.write_bytes(b'[{"id": "a", "title": "\xff"}]')
    with pytest.raises(CatalogError):
        Catalog.load(path)


def test_catalog_error_is_a_value_error() -> None:
    """Callers catching ValueError also catch catalog errors."""
    assert issubclass(CatalogError, ValueError)


def test_a_rooms_moderation_object_sets_its_policy_and_others_keep_the_default(
    tmp_path: Path,
) -> None:
    path = write_rooms(
        tmp_path,
        [
            {"id": "sponsors", "title": "Find a sponsor", "moderation": {"redact_pii": False}},
            {
                "id": "teens",
                "title": "Teens",
                "moderation": {
                    "held_categories": ["harassment", "solicitation", "spam", "pii"],
                    "support_from": "concern",
                    "crisis_placeholder": "Someone here needs support right now.",
                },
            },
            {"id": "plain", "title": "Plain"},
        ],
    )
    catalog = Catalog.load(path)
    sponsors, teens, plain = (catalog.get(name) for name in ("sponsors", "teens", "plain"))
    assert sponsors is not None and teens is not None and plain is not None
    assert sponsors.policy == RoomPolicy(redact_pii=False)
    assert teens.policy.held_categories == {
        Category.HARASSMENT,
        Category.SOLICITATION,
        Category.SPAM,
        Category.PII,
    }
    assert teens.policy.support_from is Severity.CONCERN
    assert teens.policy.crisis_placeholder == "Someone here needs support right now."
    assert plain.policy is DEFAULT_POLICY


@pytest.mark.parametrize(
    ("moderation", "message"),
    [
        pytest.param({"held_categories": ["suicide"]}, "never held outright", id="crisis held"),
        pytest.param({"hold_method_detail": "no"}, "true or false", id="flag not a bool"),
        pytest.param({"redact_pii": 0}, "true or false", id="number for a flag"),
        pytest.param({"held_categories": "spam"}, "list of category names", id="not a list"),
        pytest.param({"held_categories": ["scam"]}, "'scam' is not one of", id="unknown category"),
        pytest.param({"support_from": "watch"}, "concern, high, imminent", id="support at watch"),
        pytest.param({"crisis_placeholder": " "}, "non-empty string", id="blank placeholder"),
        pytest.param({"redact": False}, "unknown key 'redact'", id="typo in a key"),
        pytest.param(["redact_pii"], "must be an object", id="not an object"),
    ],
)
def test_a_bad_moderation_object_is_refused_naming_the_room_and_key(
    tmp_path: Path, moderation: object, message: str
) -> None:
    """A typo must stop the worker at start, not silently change what a room sees."""
    path = write_rooms(tmp_path, [{"id": "ok", "title": "OK", "moderation": moderation}])
    with pytest.raises(CatalogError, match=rf"room #0 \(ok\): 'moderation' .*{message}"):
        Catalog.load(path)
