"""The one entry point the server calls: text in, verdict out, no I/O.

``normalize`` -> ``classify`` (match + rules + context) -> the learned second stage on every
message (``blend`` where the lexicon found anything, ``alone`` with a stricter threshold where
it found nothing) -> ``decide`` (policy). Pure and deterministic: the same text, lexicon and
policy always give the same verdict, so verdicts can be recomputed in tests, in the scan CLI
and in the benches exactly as the server sees them.

Most chat carries no signal. :func:`~moderation.classifier.signals` proves that with one
automaton pass and integer masks (see :func:`~moderation.classifier.quiet`), and such a
message gets the verdict ``decide`` gives an empty signal list
(:func:`~moderation.policy.delivered`), without hits, clauses or context being built
(tests/unit/golden pins that both paths decide exactly as before).
"""

from __future__ import annotations

from moderation.blend import alone, blend
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
    if model is not None:
        if bits or found:  # a sign: the model weighs it with the rules
            found, *reading = blend(model, normalized.words, bits, lexicon.concept_names, found)
        elif (added := alone(model, normalized.words)) is not None:  # plain words, read alone
            found, *reading = added
    if found:
        verdict = decide(normalized, found, lexicon.version, policy)
    else:
        verdict = delivered(text, lexicon.version)
    if reading:  # a new verdict: filled in as moderation.policy fills its fields
        verdict.__dict__.update(risk=reading[0], likeliest=reading[1])
    return verdict
