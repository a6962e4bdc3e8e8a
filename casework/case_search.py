"""Searching resolved cases: by room, category, outcome and the date they were resolved.

A resolved case is not gone: a volunteer meeting someone again, or a coordinator looking back
over a week of nights, finds it here. The query (`casework.flags.CaseQuery`) is pure: both
stores filter with its `matches`, so the answer cannot differ between them. The stores choose
which resolved flags to look at: the newest in the date window first, at most
`SEARCH_SCAN_LIMIT` of them, so no search costs more than a bounded read however long the
history is.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping

from casework.flags import SEARCH_SCAN_LIMIT, CaseQuery, Outcome

__all__ = ["SEARCH_RESULTS_LIMIT", "SEARCH_SCAN_LIMIT", "CaseQuery", "query_from_params"]

# How many matching cases one answer lists.
SEARCH_RESULTS_LIMIT = 100
_FIELD_MAX = 64


def query_from_params(params: Mapping[str, str]) -> CaseQuery:
    """A query from a request's parameters (`room`, `category`, `outcome`, `from_ms`, `to_ms`);
    raises ValueError with a message fit to show for anything malformed."""
    texts = {}
    for name in ("room", "category", "outcome"):
        value = params.get(name, "").strip()
        if len(value) > _FIELD_MAX or not value.isprintable():
            raise ValueError(f"{name} must be at most {_FIELD_MAX} plain characters")
        texts[name] = value
    if texts["outcome"] and texts["outcome"] not in set(Outcome):
        raise ValueError(f"outcome must be one of {', '.join(Outcome)}")
    from_ms, to_ms = _time(params.get("from_ms", "")), _time(params.get("to_ms", ""))
    if to_ms and to_ms <= from_ms:
        raise ValueError("the end date must come after the start date")
    return CaseQuery(texts["room"], texts["category"], texts["outcome"], from_ms, to_ms)


def _time(value: str) -> int:
    if not value:
        return 0
    if not value.isdigit() or len(value) > 15:
        raise ValueError("dates must be given as milliseconds since 1970")
    return int(value)
