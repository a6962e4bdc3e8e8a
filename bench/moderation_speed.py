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

Throughput is the batch's message count over the CPU time of whole passes, one clock read
before and after each: reading the thread clock is a system call costing about a microsecond
on some virtual machines, as much as 5 % of a message, so timing every message would charge
the clock to the core. The latency percentiles need per-message times, so they come from one
more pass and include that overhead (about 1 us each).
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

# The whole core, the learned stage included (the crisis-detection issue's target).
TARGET_PER_SECOND = 15_000

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
    "does anyone know if the Thursday zoom meeting moved to a new link this week?",
    "made pancakes with my son this morning, first weekend I have been fully present",
    "my counselor wants me to write a gratitude list every night before bed",
    "the cravings were bad after work but I called my sponsor and went for a run",
    "hit 90 days yesterday, still kind of shocked, thank you all for the support",
    "Is it normal to feel this tired in the second month? I sleep ten hours and wake up wrecked",
    "me siento mejor hoy, fui a la reunión de la mañana y hablé con mi madrina",
    "anyone else find weekends harder than weekdays? too much unstructured time",
    "new job starts Monday, nervous but excited, it is my first job in recovery",
    "watched the sunrise from the beach with my sister, we talked for hours",
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


def messages(count: int, flagged_share: float = 0.05, seed: int = 7) -> list[str]:
    """``count`` messages of 100-300 characters, ``flagged_share`` of them with a line that
    should be flagged (crisis, community harm, obfuscation) among ordinary chat."""
    chooser = random.Random(seed)
    built = []
    for _ in range(count):
        parts = [chooser.choice(ORDINARY)]
        if chooser.random() < flagged_share:
            parts.insert(chooser.randrange(2), chooser.choice(FLAGGED))
        while sum(len(part) + 2 for part in parts) < chooser.randint(100, 300):
            parts.append(chooser.choice(ORDINARY))
        built.append(". ".join(parts)[:300])
    return built


def main(argv: list[str] | None = None) -> int:
    """Print throughput figures; returns 0 when the target rate is met on the typical mix."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--flagged-share", type=float, default=0.05)
    args = parser.parse_args(argv)
    lexicon = load_lexicon()
    print(f"lexicon {lexicon.version}: {lexicon.term_count} keys, {len(lexicon.rules)} rules")
    print(f"reference: sum(range(1000)) takes {_reference_us():.1f} us on this core")
    typical = messages(args.messages, args.flagged_share)
    rate = _measure("typical mix", typical, args.repeat)
    _measure("every message flagged", messages(args.messages // 4, 1.0), args.repeat)
    print(f"\ntarget: >= {TARGET_PER_SECOND:,} msgs/s on the typical mix")
    return 0 if rate >= TARGET_PER_SECOND else 1


def _measure(name: str, batch: list[str], repeat: int) -> float:
    """Time ``batch`` ``repeat`` times through the whole core; print and return msgs/s."""
    lexicon = load_lexicon()
    for text in batch[:500]:  # warm caches the way a running server would have them
        moderate(text, lexicon)
    cpu_ns = 0
    started = time.perf_counter()
    for _ in range(repeat):
        begin = time.thread_time_ns()
        for text in batch:
            moderate(text, lexicon)
        cpu_ns += time.thread_time_ns() - begin
    count = len(batch) * repeat
    wall_rate = count / (time.perf_counter() - started)
    rate = count / (cpu_ns / 1e9)
    timings = []
    for text in batch:  # one more pass, per message, for the percentiles only
        begin = time.thread_time_ns()
        moderate(text, lexicon)
        timings.append(time.thread_time_ns() - begin)
    micros = sorted(timing / 1000 for timing in timings)
    p99 = micros[min(len(micros) - 1, int(len(micros) * 0.99))]
    flagged = statistics.fmean(moderate(text, lexicon).flag for text in batch)
    mean_length = statistics.fmean(len(text) for text in batch)
    print(f"\n{name}: {count} messages, mean {mean_length:.0f} chars, {flagged:.0%} flagged")
    print(f"  throughput: {rate:,.0f} msgs/s of CPU time on one core ({wall_rate:,.0f} wall)")
    print(
        f"  latency: p50 {statistics.median(micros):.1f} us, p99 {p99:.1f} us per message"
        " (each includes ~1 us of clock reads)"
    )
    return rate


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
