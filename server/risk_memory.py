"""Each person's recent risky messages, remembered for a few minutes so that several weaker
signals close together can raise a crisis (the decision is moderation/context.py's).

In this worker's memory only, never stored or logged, keyed by the anonymous identity: a few
numbers per person (time, risk, likeliest category), at most ``per_person`` of them, for at most
``people`` people; the longest-unseen person is forgotten first, and entries older than the
window are dropped whenever that person writes again.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from moderation.context import FLOOR, Recent
from moderation.verdict import Verdict

PER_PERSON = 4


class RiskMemory:
    __slots__ = ("_people", "_recent", "_window_s")

    def __init__(self, *, window_s: float, people: int) -> None:
        self._window_s = window_s
        self._people = people
        self._recent: OrderedDict[str, deque[Recent]] = OrderedDict()

    def recent(self, uid: str, now_s: float) -> list[Recent]:
        """The person's remembered messages still within the window, oldest first."""
        kept = self._recent.get(uid)
        if kept is None:
            return []
        while kept and now_s - kept[0].at_s > self._window_s:
            kept.popleft()
        return list(kept)

    def remember(self, uid: str, verdict: Verdict, now_s: float) -> None:
        """Keep this message's risk if it is a weaker signal: enough to count, yet no crisis
        (a crisis is flagged on its own; what follows it is not raised on its account)."""
        if verdict.risk is None or verdict.risk < FLOOR or verdict.is_crisis:
            return
        kept = self._recent.get(uid)
        if kept is None:
            kept = self._recent[uid] = deque(maxlen=PER_PERSON)
            if len(self._recent) > self._people:
                self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(uid)
        kept.append(Recent(now_s, verdict.risk, verdict.likeliest))

    def __len__(self) -> int:
        return len(self._recent)
