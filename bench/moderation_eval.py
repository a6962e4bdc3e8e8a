"""Moderation quality on labelled messages: prints figures, the confusion table and the misses.

Usage (from the repository root)::

    python bench/moderation_eval.py [DEV_SET] [--split all|design|holdout]
    python bench/moderation_eval.py --corpus build      # corpus/build/, misses listed
    python bench/moderation_eval.py --corpus heldout    # corpus/heldout/, aggregate figures only

DEV_SET defaults to $HARBOR_DEV_SET, else ``../shared/moderation/dev-set.jsonl`` beside the
repository. ``--split holdout`` scores only every third message (ids divisible by 3), kept
aside while designing to check that mechanisms generalise rather than memorise. The corpus's
held-out part is set aside for the same reason, more strictly: for it this prints counts per
category and tag, never a message (corpus/README.md).

Counting (see moderation/verdict.py): a category counts when it is in ``verdict.categories``,
i.e. at severity concern or above; watch-level categories lowered by context do not count.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moderation import Verdict, load_lexicon, moderate
from moderation.verdict import CRISIS_CATEGORIES, Category

TARGETS = {"crisis recall": 0.95, "crisis category accuracy": 0.90, "moderate recall": 0.90}
REPOSITORY = Path(__file__).resolve().parents[1]
FALSE_ALARM_LIMIT = 0.03
COMMUNITY = frozenset(Category) - CRISIS_CATEGORIES


@dataclass(frozen=True)
class Example:
    """One labelled dev-set line."""

    id: str
    text: str
    expect: str
    category: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Scored:
    """An example with its verdict and, when wrong, what kind of miss it is."""

    example: Example
    verdict: Verdict
    miss: str | None


def main(argv: list[str] | None = None) -> int:
    """Score the dev set and print the report; returns 0 when every target is met."""
    args = _parser().parse_args(argv)
    if args.corpus:
        paths = sorted((REPOSITORY / "corpus" / args.corpus).glob("*.jsonl"))
        examples = [e for path in paths for e in _load(path)]
        source = f"corpus/{args.corpus}"
    else:
        examples = [e for e in _load(_dev_set_path(args.path)) if _in_split(e, args.split)]
        source = f"dev set, split {args.split}"
    lexicon = load_lexicon()
    scored = [_score(example, moderate(example.text, lexicon)) for example in examples]
    print(f"lexicon {lexicon.version}, {len(examples)} messages ({source})")
    met = _print_figures(scored)
    _print_confusion(scored)
    _print_miss_counts(scored)
    if args.corpus != "heldout":
        _print_misses(scored)
    return 0 if met else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", help="dev-set JSON lines (default: see module doc)")
    parser.add_argument("--split", choices=("all", "design", "holdout"), default="all")
    parser.add_argument("--corpus", choices=("build", "heldout"), help="score the team corpus")
    return parser


def _dev_set_path(argument: str | None) -> Path:
    if argument:
        return Path(argument)
    if os.environ.get("HARBOR_DEV_SET"):
        return Path(os.environ["HARBOR_DEV_SET"])
    return REPOSITORY.parent / "shared" / "moderation" / "dev-set.jsonl"


def _load(path: Path) -> list[Example]:
    examples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            examples.append(
                Example(row["id"], row["text"], row["expect"], row["category"], tuple(row["tags"]))
            )
    return examples


def _in_split(example: Example, split: str) -> bool:
    if split == "all":
        return True
    held_out = int("".join(ch for ch in example.id if ch.isdigit())) % 3 == 0
    return held_out if split == "holdout" else not held_out


def _score(example: Example, verdict: Verdict) -> Scored:
    given = set(verdict.categories)
    crisis_given = given & CRISIS_CATEGORIES
    miss = None
    if example.expect == "crisis" and not crisis_given:
        miss = "crisis missed"
    elif example.expect == "crisis" and example.category not in given:
        miss = "wrong crisis category"
    elif example.expect == "none" and crisis_given:
        miss = "false alarm"
    elif example.expect == "moderate" and not given & COMMUNITY:
        miss = "moderate missed"
    return Scored(example, verdict, miss)


def _ratio(hits: int, total: int) -> float:
    return hits / total if total else 0.0


def _print_figures(scored: list[Scored]) -> bool:
    crisis = [s for s in scored if s.example.expect == "crisis"]
    moderate_ = [s for s in scored if s.example.expect == "moderate"]
    none = [s for s in scored if s.example.expect == "none"]
    detected = [s for s in crisis if set(s.verdict.categories) & CRISIS_CATEGORIES]
    right = [s for s in crisis if s.example.category in s.verdict.categories]
    figures = {
        "crisis recall": _ratio(len(detected), len(crisis)),
        "crisis category accuracy": _ratio(len(right), len(crisis)),
        "moderate recall": _ratio(
            sum(1 for s in moderate_ if set(s.verdict.categories) & COMMUNITY), len(moderate_)
        ),
    }
    alarms = _ratio(sum(1 for s in none if s.miss == "false alarm"), len(none))
    met = alarms <= FALSE_ALARM_LIMIT
    print()
    for name, value in figures.items():
        ok = value >= TARGETS[name]
        met = met and ok
        print(f"{name:<28}{value:7.3f}   target >= {TARGETS[name]:.2f}  {'ok' if ok else 'MISS'}")
    verdict = "ok" if alarms <= FALSE_ALARM_LIMIT else "MISS"
    print(f"{'false alarms':<28}{alarms:7.3f}   target <= {FALSE_ALARM_LIMIT:.2f}  {verdict}")
    print(f"(category accuracy over all {len(crisis)} crisis messages; detected: {len(detected)})")
    return met


def _print_confusion(scored: list[Scored]) -> None:
    columns = [category.value for category in Category] + ["none"]
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for s in scored:
        first = s.verdict.categories[0].value if s.verdict.categories else "none"
        table[s.example.category][first] += 1
    print("\nconfusion: rows = expected, columns = first category given")
    print(f"{'':<14}" + "".join(f"{name[:8]:>9}" for name in columns))
    for row in columns:
        if row in table:
            counts = "".join(f"{table[row][name] or '.':>9}" for name in columns)
            print(f"{row:<14}{counts}")


def _print_miss_counts(scored: list[Scored]) -> None:
    """Misses per expected category and per tag, as counts only."""
    for key, title in ((lambda e: (e.category,), "category"), (lambda e: e.tags, "tag")):
        totals: Counter[str] = Counter()
        misses: Counter[str] = Counter()
        for s in scored:
            for name in key(s.example) or ("untagged",):
                totals[name] += 1
                misses[name] += bool(s.miss)
        print(
            f"\nmisses by {title}: "
            + ", ".join(f"{n} {misses[n]}/{totals[n]}" for n in sorted(totals))
        )


def _print_misses(scored: list[Scored]) -> None:
    by_tag: dict[str, list[Scored]] = defaultdict(list)
    for s in scored:
        if s.miss:
            for tag in s.example.tags or ("untagged",):
                by_tag[tag].append(s)
    total = sum(1 for s in scored if s.miss)
    print(f"\nmisses: {total} (listed under each of their tags)")
    for tag in sorted(by_tag):
        print(f"\n[{tag}]")
        for s in by_tag[tag]:
            given = ",".join(s.verdict.categories) or "-"
            watch = ",".join(s.verdict.watch)
            extra = f" watch={watch}" if watch else ""
            print(f"  {s.example.id} {s.miss}: expected {s.example.category}, given {given}{extra}")
            print(f"      {s.example.text!r}")


if __name__ == "__main__":
    raise SystemExit(main())
