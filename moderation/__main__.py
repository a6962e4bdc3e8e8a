"""``python -m moderation scan``: moderate stdin line by line into JSON lines on stdout."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from moderation.lexicon import LexiconError, load_lexicon
from moderation.scan import scan


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns 0, or 1 when some lines were errors, or 2 on a bad lexicon."""
    args = _parser().parse_args(argv)
    try:
        lexicon = load_lexicon(args.lexicon)
    except (OSError, LexiconError, ValueError) as error:
        sys.stderr.write(f"cannot load lexicon: {error}\n")
        return 2
    errors = scan(sys.stdin, sys.stdout, lexicon, input_format=args.format)
    return 1 if errors else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m moderation")
    commands = parser.add_subparsers(dest="command", required=True)
    scan_command = commands.add_parser("scan", help="moderate stdin lines into JSON lines")
    scan_command.add_argument(
        "--format",
        choices=("auto", "text", "jsonl"),
        default="auto",
        help="auto: lines starting with '{' are JSON objects with a 'text' field",
    )
    scan_command.add_argument("--lexicon", type=Path, help="lexicon directory (default: shipped)")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
