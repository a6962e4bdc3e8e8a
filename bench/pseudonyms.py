"""How often two anonymous people share a pseudonym: the size of the name space, and the share
of identities whose name someone else also has, measured at 1,500 / 100,000 / 1,000,000.

Usage (from the repository root)::

    python bench/pseudonyms.py [--secret S] [--sizes 1500,100000,1000000]

Names are derived exactly as a worker derives them (`IdentityIssuer`, an HMAC of a random
128-bit id under the secret); the ids here are random too, so each run is a fresh sample. A
name is a courtesy, not an identity: whose message is whose is decided by the writer's tag,
whatever the names. So the figure is about how often people see a twin, not about safety.
Expected share for n identities among N names: 1 - (1 - 1/N)**(n - 1), about n / N.

The loop is bounded by the largest size (at most 5,000,000), and takes a few seconds a million.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.identity import NAME_COUNT, IdentityIssuer

DEFAULT_SIZES = (1_500, 100_000, 1_000_000)
MAX_SIZE = 5_000_000


def shared_share(names: list[str]) -> float:
    """The share of `names` (one per identity) that at least one other identity also has."""
    counts = Counter(names)
    return sum(count for count in counts.values() if count > 1) / len(names)


def expected_share(identities: int, names: int = NAME_COUNT) -> float:
    return 1.0 - (1.0 - 1.0 / names) ** (identities - 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--secret", default=secrets.token_hex(32))
    parser.add_argument(
        "--sizes", default=",".join(str(s) for s in DEFAULT_SIZES), help="comma-separated"
    )
    args = parser.parse_args(argv)
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if not sizes or sizes[0] < 2 or sizes[-1] > MAX_SIZE:
        parser.error(f"sizes must be between 2 and {MAX_SIZE:,}")
    issuer = IdentityIssuer(args.secret)
    print(f"pseudonyms: {NAME_COUNT:,} names")
    print(f"{'identities':>12}  {'share sharing a name':>21}  {'expected':>9}  {'seconds':>7}")
    names: list[str] = []
    started = time.perf_counter()
    for size in sizes:
        while len(names) < size:  # bounded: sizes[-1] <= MAX_SIZE
            names.append(issuer._pseudonym(secrets.token_bytes(16)))
        share = shared_share(names)
        elapsed = time.perf_counter() - started
        print(f"{size:>12,}  {share:>20.4%}  {expected_share(size):>8.4%}  {elapsed:>7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
