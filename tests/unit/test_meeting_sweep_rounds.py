"""Each round of a worker's meeting sweep is counted by how it ended, so an operator tells a
loop that stopped from one that runs and fails (docs/operations.md, the sweeps metric)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import anyio
import pytest

from rooms.broker import BrokerUnavailable
from server.context import WorkerContext
from server.meeting_sweep import keep_meetings_settled
from server.metrics import SWEEP_RESULTS, Metrics


class ScriptedStore:
    """Added meetings read as scripted: each entry an error to raise or ``None`` (no meetings
    added); past the script, the loop is cancelled."""

    def __init__(self, script: list[Exception | None], scope: anyio.CancelScope) -> None:
        self.script = script
        self.scope = scope

    async def added(self) -> list[object]:
        if not self.script:
            self.scope.cancel()
            await anyio.sleep_forever()
        outcome = self.script.pop(0)
        if outcome is not None:
            raise outcome
        return []


class EmptyBook:
    def refresh(self, added: list[object]) -> None:
        pass

    def rooms(self) -> list[str]:
        return []


def sweeps(metrics: Metrics, result: str) -> float:
    value = metrics.registry.get_sample_value("harbor_meeting_sweeps_total", {"result": result})
    assert value is not None, f"harbor_meeting_sweeps_total{{result={result!r}}} not exported"
    return value


@pytest.mark.parametrize("result", SWEEP_RESULTS)
def test_every_result_is_exported_before_any_round(result: str) -> None:
    assert sweeps(Metrics(), result) == 0


async def test_a_round_counts_as_ok_store_unavailable_or_failed() -> None:
    metrics = Metrics()
    with anyio.CancelScope() as scope:
        store = ScriptedStore(
            [None, BrokerUnavailable("redis away"), RuntimeError("a bug"), BrokerUnavailable("")],
            scope,
        )
        context = SimpleNamespace(
            meetings=store,
            settings=SimpleNamespace(meeting_sweep_s=0),
            meeting_book=EmptyBook(),
            metrics=metrics,
        )
        await keep_meetings_settled(cast(WorkerContext, context))
    counted = tuple(sweeps(metrics, result) for result in ("ok", "store_unavailable", "failed"))
    assert counted == (1, 2, 1)
