"""Crisis resources and the `support` frame a writer gets the moment they reach out.

Kindly worded, never a warning or a penalty: the person is told they are not alone, where to get
help right now, and whether a volunteer is on duty. Operators can replace the list with their own
region's services through `HARBOR_RESOURCES` (a JSON file shaped like DEFAULT_RESOURCES). The
pages read the same list from /api/resources.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Resource:
    name: str
    action: str  # what to do, in plain words: "Call or text 988"
    href: str  # tel:, sms: or https: link
    region: str  # ISO country code, "EU" for the European Union, or "INT" for everywhere


# One entry per number, so each is one tap: a phone can't dial "911, 999 or 112". Well-known
# public lines only, by region (ISO country code; "EU" for 112 across the European Union). The
# chat page and the help page pick the region from the browser and let the person change it;
# their no-JavaScript fallbacks list the same lines (tests/unit/test_support_resources.py).
DEFAULT_RESOURCES = (
    Resource("988 Suicide & Crisis Lifeline", "Call 988", "tel:988", "US"),
    Resource("988 Lifeline by text", "Text 988", "sms:988", "US"),
    Resource(
        "SAMHSA National Helpline",
        "Call 1-800-662-4357 (free, 24/7)",
        "tel:+18006624357",
        "US",
    ),
    Resource("Crisis Text Line", "Text HOME to 741741", "sms:741741?body=HOME", "US"),
    Resource("Emergency services", "Call 911", "tel:911", "US"),
    Resource("9-8-8 Suicide Crisis Helpline", "Call 988", "tel:988", "CA"),
    Resource("9-8-8 by text", "Text 988", "sms:988", "CA"),
    Resource("Emergency services", "Call 911", "tel:911", "CA"),
    Resource("Samaritans", "Call 116 123 (free, 24/7)", "tel:116123", "GB"),
    Resource("Emergency services", "Call 999", "tel:999", "GB"),
    Resource("Samaritans Ireland", "Call 116 123 (free, 24/7)", "tel:116123", "IE"),
    Resource("Emergency services", "Call 112", "tel:112", "IE"),
    Resource("Emergency services", "Call 999", "tel:999", "IE"),
    Resource("Emergency services (EU)", "Call 112", "tel:112", "EU"),
    Resource("Lifeline Australia", "Call 13 11 14 (24/7)", "tel:131114", "AU"),
    Resource("Emergency services", "Call 000", "tel:000", "AU"),
    Resource("1737, Need to talk?", "Call or text 1737 (free, 24/7)", "tel:1737", "NZ"),
    Resource("Emergency services", "Call 111", "tel:111", "NZ"),
)

# What the writer reads first. It never says a volunteer is with them when none is online:
# then the free 24/7 lines come first and the absence is said plainly.
SUPPORT_WITH_VOLUNTEER = (
    "Thank you for telling us. You're not alone. A volunteer moderator has been alerted and will "
    "check in with you here. If you're in danger right now, these services are free and there "
    "for you at any hour:"
)
SUPPORT_WITHOUT_VOLUNTEER = (
    "Thank you for telling us. You're not alone. These services are free and answer 24/7: "
    "please reach out to one now if you're in danger. No volunteer moderator is online here "
    "right now; the next one on duty will see your message."
)


class ResourcesError(ValueError):
    pass


def load_resources(path: Path | None) -> tuple[Resource, ...]:
    if path is None:
        return DEFAULT_RESOURCES
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        resources = tuple(Resource(**entry) for entry in entries)
    except (OSError, ValueError, TypeError) as exc:
        raise ResourcesError(f"cannot read resources file {path}: {exc}") from exc
    if not resources:
        raise ResourcesError(f"{path}: the resources list is empty")
    return resources


def support_frame(
    room: str, resources: tuple[Resource, ...], *, on_duty: bool, region: str | None
) -> dict[str, Any]:
    """The writer's region first (when known), then everything else."""
    ordered = sorted(resources, key=lambda r: (r.region not in (region, "INT"), r.region != region))
    return {
        "type": "support",
        "room": room,
        "message": SUPPORT_WITH_VOLUNTEER if on_duty else SUPPORT_WITHOUT_VOLUNTEER,
        "on_duty": on_duty,
        "resources": [asdict(r) for r in ordered],
    }
