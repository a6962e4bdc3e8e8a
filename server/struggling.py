""" "I'm struggling": one tap posts a gentle request for support in the room.

The words are Harbor's, never the person's: nothing to write, nothing to explain, so nothing
for moderation to read. The request goes out under the person's pseudonym (others can answer
them) with the note `struggling`, which pages show with a look of its own. What the person then
writes goes through the gate like any message, so a crisis takes the crisis path as usual.

A request is bounded twice: by the connection's send limit, like any message, and by
`HARBOR_STRUGGLING_COOLDOWN_S` between two requests from one connection. It is not refused for a
moderator's mute: asking for support is never a thing a sanction takes away, and the cooldown
keeps it from becoming a way around one.
"""

from __future__ import annotations

from typing import Any

from rooms.envelope import Draft

from .context import WorkerContext
from .identity import Identity

NOTE = "struggling"
TEXT = "I'm struggling right now and could use some support."


async def ask_for_support(
    context: WorkerContext, writer: Identity, room: str, client_id: str, badge: str = ""
) -> dict[str, Any]:
    """Publish the request (once per client_id: a resend gets the first ack) and the ack."""
    draft = Draft(
        uid=writer.uid,
        name=writer.name,
        text=TEXT,
        ts=context.clock(),
        client_id=client_id,
        note=NOTE,
        badge=badge,
    )
    receipt = await context.broker.publish(room, draft)
    return {"type": "ack", "client_id": client_id, "id": receipt.id}
