"""Moderation throughput on one core: the whole pure core (normalise + match + decide).

Usage (from the repository root)::

    python bench/moderation_speed.py [--messages 20000] [--repeat 3]

Messages are typical chat lines of 100-300 characters, built from a fixed seed out of
ordinary recovery talk with a share of crisis, community-harm and obfuscated lines, so the
figure covers fast ASCII paths and the slower Unicode ones. Prints messages per second and
microseconds per message at p50 and p99. A figure, not a test: nothing here asserts timing.

Times are CPU time of this thread (``time.thread_time_ns``), so other processes sharing the
machine do not inflate them; a wall-clock rate is printed too, and a reference loop shows how
fast this core runs pure Python (``sum(range(1000))`` takes about 10 us on a recent desktop).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moderation import load_lexicon, moderate

TARGET_PER_SECOND = 20_000

ORDINARY = (
    "had a rough morning but made it to the 7am meeting and my sponsor bought me coffee",
    "day 43 today, the cravings come in waves but the waves are getting smaller",
    "my daughter asked why I don't drink wine at dinner anymore and I told her the truth",
    "anyone have tips for sleeping in the first month? I keep waking up at 3am",
    "work was stressful, my boss keeps piling things on, but I journaled instead of spiralling",
    "went to the family group at the clinic last night, it helped to hear other parents",
    "grateful for this room, it is the first place I have been honest in years",
    "Gracias a todos por el apoyo, hoy cumplo dos meses sin tomar 🙏",
    "this headache is killing me, third day without caffeine too",
    "five years ago I overdosed in a parking lot, today I coach the new folks at my job",
)
FLAGGED = (
    "I can't do this anymore, I have the pills lined up and everyone is asleep",
    "he hit me again tonight and I'm hiding in the bathroom with my phone",
    "about to use, the bag is in my hand, someone please talk to me",
    "my friend won't wake up and his lips are blue, what do I do",
    "call me at (614) 555-0133 or email me at someone@example.com after the meeting",
    "selling my leftover percs cheap, dm me if you need some for the weekend",
    "i w a n t  t o  d i e tonight, n0body would even n0tice",
    "ｓｅｌｆ ｈａｒｍ again tonight, the blade is right there",
)


def messages(count: int, seed: int = 7) -> list[str]:
    """``count`` messages of 100-300 characters, about one in five flagged or obfuscated."""
    chooser = random.Random(seed)
    built = []
    for _ in range(count):
        parts = [chooser.choice(ORDINARY)]
        if chooser.random() < 0.2:
            parts.insert(chooser.randrange(2), chooser.choice(FLAGGED))
        while sum(len(part) + 2 for part in parts) < chooser.randint(100, 300):
            parts.append(chooser.choice(ORDINARY))
        built.append(". ".join(parts)[:300])
    return built


def main(argv: list[str] | None = None) -> int:
    """Print throughput figures; returns 0 when the target rate is met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    lexicon = load_lexicon()
    batch = messages(args.messages)
    for text in batch[:500]:  # warm caches the way a running server would have them
        moderate(text, lexicon)
    timings = []
    started = time.perf_counter()
    for _ in range(args.repeat):
        for text in batch:
            begin = time.thread_time_ns()
            moderate(text, lexicon)
            timings.append(time.thread_time_ns() - begin)
    wall_rate = len(timings) / (time.perf_counter() - started)
    rate = len(timings) / (sum(timings) / 1e9)
    micros = sorted(timing / 1000 for timing in timings)
    p99 = micros[min(len(micros) - 1, int(len(micros) * 0.99))]
    mean_length = statistics.fmean(len(text) for text in batch)
    print(f"lexicon {lexicon.version}: {lexicon.term_count} keys, {len(lexicon.rules)} rules")
    print(f"messages: {len(timings)} ({args.messages} distinct, mean {mean_length:.0f} chars)")
    print(
        f"throughput: {rate:,.0f} msgs/s of CPU time on one core (target >= {TARGET_PER_SECOND:,})"
    )
    print(f"wall clock: {wall_rate:,.0f} msgs/s (includes time other processes held the core)")
    print(f"reference: sum(range(1000)) takes {_reference_us():.1f} us on this core")
    print(f"latency: p50 {statistics.median(micros):.1f} us, p99 {p99:.1f} us per message")
    return 0 if rate >= TARGET_PER_SECOND else 1


def _reference_us() -> float:
    """CPU microseconds for a fixed pure-Python loop, to compare machines."""
    best = float("inf")
    for _ in range(200):
        begin = time.thread_time_ns()
        sum(range(1000))
        best = min(best, (time.thread_time_ns() - begin) / 1000)
    return best


if __name__ == "__main__":
    raise SystemExit(main())
