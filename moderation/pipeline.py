"""The one entry point the server calls: text in, verdict out, no I/O.

``normalize`` -> ``classify`` (match + rules + context) -> ``blend`` (the learned second
stage, for every message in which the lexicon found anything) -> ``decide`` (policy). Pure and
deterministic: the same text, lexicon and policy always give the same verdict, so verdicts can
be recomputed in tests, in the scan CLI and in the benches exactly as the server sees them.

Most chat carries no signal. :func:`~moderation.classifier.signals` proves that with one
automaton pass and integer masks (see :func:`~moderation.classifier.quiet`), and such a
message gets the verdict ``decide`` gives an empty signal list
(:func:`~moderation.policy.delivered`), without hits, clauses or context being built
(tests/unit/golden pins that both paths decide exactly as before).
"""

from __future__ import annotations

from moderation.blend import blend
from moderation.classifier import signals_and_bits
from moderation.lexicon import Lexicon
from moderation.normalize import normalize
from moderation.policy import DEFAULT_POLICY, RoomPolicy, decide, delivered
from moderation.verdict import Verdict


def moderate(text: str, lexicon: Lexicon, policy: RoomPolicy = DEFAULT_POLICY) -> Verdict:
    """The verdict on one chat message. Raises ``TypeError`` if ``text`` is not a ``str``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    normalized = normalize(text, lexicon.vocabulary)
    found, bits = signals_and_bits(normalized, lexicon)
    model = lexicon.model
    reading = None
    if model is not None and (bits or found):  # the learned stage reads what shows a sign
        found, *reading = blend(model, normalized.words, bits, lexicon.concept_names, found)
    if found:
        verdict = decide(normalized, found, lexicon.version, policy)
    else:
        verdict = delivered(text, lexicon.version)
    if reading:  # a new verdict: filled in as moderation.policy fills its fields
        verdict.__dict__.update(risk=reading[0], likeliest=reading[1])
    return verdict
