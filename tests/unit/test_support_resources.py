"""The crisis lines: one number per link, the well-known defaults for each region, and the
pages' no-JavaScript lists equal to the server's defaults (one source of truth)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from server.support import DEFAULT_RESOURCES, support_frame
from tests.harness import REPO

ONE_NUMBER = re.compile(r"^(tel:\+?\d+|sms:\d+(\?body=[A-Z]+)?)$")

EXPECTED = {
    "US": {"tel:988", "sms:988", "tel:911"},
    "CA": {"tel:988", "tel:911"},
    "GB": {"tel:116123", "tel:999"},
    "IE": {"tel:116123", "tel:112", "tel:999"},
    "EU": {"tel:112"},
    "AU": {"tel:131114", "tel:000"},
    "NZ": {"tel:1737", "tel:111"},
}


def test_each_link_dials_or_texts_one_number() -> None:
    for resource in DEFAULT_RESOURCES:
        assert ONE_NUMBER.match(resource.href), resource
        digits = re.sub(r"\D", "", resource.href.split("?")[0])
        named = re.sub(r"\D", "", resource.action)
        assert digits in named, f"{resource.action!r} does not name {resource.href}"


def test_every_region_has_its_well_known_lines() -> None:
    by_region: dict[str, set[str]] = {}
    for resource in DEFAULT_RESOURCES:
        by_region.setdefault(resource.region, set()).add(resource.href)
    for region, hrefs in EXPECTED.items():
        assert hrefs <= by_region.get(region, set()), region


class _Lines(HTMLParser):
    """tel:/sms: links inside the element with `container_id`."""

    def __init__(self, container_id: str) -> None:
        super().__init__()
        self.container_id = container_id
        self.depth = 0
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if self.depth:
            self.depth += tag not in ("br", "img", "input", "meta", "link")
        elif values.get("id") == self.container_id:
            self.depth = 1
        if self.depth and tag == "a":
            self.hrefs.append(values.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1


def _lines(page: str, container_id: str) -> list[str]:
    parser = _Lines(container_id)
    parser.feed((REPO / "web" / page).read_text(encoding="utf-8"))
    return parser.hrefs


def test_the_pages_fallback_lists_are_the_server_defaults() -> None:
    defaults = [r.href for r in DEFAULT_RESOURCES]
    assert _lines("index.html", "help-static") == defaults
    assert _lines("help/index.html", "resources") == defaults


def test_a_support_frame_lists_the_writers_region_first() -> None:
    frame = support_frame("newcomers", DEFAULT_RESOURCES, on_duty=False, region="AU")
    regions = [r["region"] for r in frame["resources"]]
    assert regions[:2] == ["AU", "AU"]
    assert sorted(regions) == sorted(r.region for r in DEFAULT_RESOURCES)
