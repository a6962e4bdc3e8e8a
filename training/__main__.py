"""``python -m training``: train the learned second stage and write moderation/lexicon/model.json.

Reads corpus/build/*.jsonl (never corpus/heldout/), computes each message's features exactly as
the server does (moderation.learned.features over the lexicon's own findings), fits a
multinomial logistic regression (scikit-learn, deterministic: lbfgs, fixed folds), chooses the
thresholds by 5-fold cross-validation on the same corpus (folds by writer), and writes the
weights, rounded and with negligible ones dropped, sorted, so the same corpus and lexicon give
the same file.

    python -m training            # train and write the model, print cross-validated figures
    python -m training --check    # train and compare with the committed model; exit 1 if it differs

Thresholds, by cross-validation: ``flag`` (for messages with a lexicon sign), ``flag_alone``
(for messages with none, never below ``flag``) and ``quiet`` are the triple that finds the most
crisis messages while false alarms on ordinary messages, both kinds together, stay within
FALSE_ALARM_BUDGET; ``high`` is fixed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_predict

from moderation.classifier import signals_and_bits
from moderation.learned import NONE, features
from moderation.lexicon import Lexicon, load_lexicon
from moderation.normalize import normalize
from moderation.verdict import CRISIS_CATEGORIES

REPOSITORY = Path(__file__).resolve().parents[1]
CORPUS = REPOSITORY / "corpus" / "build"
MODEL = REPOSITORY / "moderation" / "lexicon" / "model.json"
C = 1.0  # inverse regularisation strength
FALSE_ALARM_BUDGET = 0.04  # cross-validated share of ordinary messages given a crisis category
HIGH = 0.85
QUIET_HIGH = 0.5  # a rule's high signal is lowered only when the model is this sure
# A feature whose weights are all smaller than this is dropped: it moves no decision, and
# every feature kept costs a lookup and a row to add per message.
KEEP_WEIGHT = 0.1
DIGITS = 3
CRISIS = {str(category) for category in CRISIS_CATEGORIES}
# A flag_alone the model never reaches: the model alone flags nothing, as when the stage read
# only messages with a sign (chosen when the model alone adds no crisis message on the folds).
NEVER = 1.01
Counts = tuple[int, int, int]  # crisis messages found, found and rightly named, false alarms


def load_corpus() -> list[dict[str, Any]]:
    rows = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        rows += [{**json.loads(line), "writer": path.stem} for line in lines if line]
    return rows


def message_features(
    text: str, lexicon: Lexicon
) -> tuple[Counter[str], list[tuple[str, str]], bool]:
    """The features (as counts), the rules' crisis findings (category, severity) and whether
    the lexicon found any term (a sign) for one message, exactly as the server computes them."""
    normalized = normalize(text, lexicon.vocabulary)
    found, bits = signals_and_bits(normalized, lexicon)
    findings = [(str(signal.category), str(signal.severity)) for signal in found]
    names = features(normalized.words, bits, lexicon.concept_names, findings)
    crisis = [(c, s) for c, s in findings if c in CRISIS and s != "watch"]
    return Counter(names), crisis, bool(bits or found)


def decisions(
    risks: np.ndarray,
    chances: np.ndarray,
    classes: list[str],
    rules: list[list[tuple[str, str]]],
    flag: float,
    quiet: float,
) -> list[set[str]]:
    """The crisis categories each message ends with, exactly as moderation.blend decides."""
    out = []
    for risk, row, found in zip(risks, chances, rules, strict=True):
        if 1 - risk >= quiet:
            kept = ("high", "imminent") if 1 - risk < QUIET_HIGH else ("imminent",)
            listed = {category for category, severity in found if severity in kept}
        else:
            listed = {category for category, _ in found}
            if risk >= flag:
                others = [(p, name) for p, name in zip(row, classes, strict=True) if name != NONE]
                listed.add(max(others)[1])
        out.append(listed & CRISIS)
    return out


def counts(expect: list[str], categories: list[str], decided: list[set[str]]) -> Counts:
    """How many crisis messages were found and rightly named, how many ordinary ones flagged."""
    crisis = [i for i, e in enumerate(expect) if e == "crisis"]
    none = [i for i, e in enumerate(expect) if e == "none"]
    return (
        sum(bool(decided[i] & CRISIS) for i in crisis),
        sum(categories[i] in decided[i] for i in crisis),
        sum(bool(decided[i] & CRISIS) for i in none),
    )


def _added(one: Counts, other: Counts) -> Counts:
    return one[0] + other[0], one[1] + other[1], one[2] + other[2]


def figures(expect: list[str], total: Counts) -> dict[str, float]:
    crisis, none = expect.count("crisis"), expect.count("none")
    found, named, alarms = total
    return {
        "crisis recall": found / crisis,
        "category accuracy": named / crisis,
        "false alarms": alarms / none,
    }


def train() -> dict[str, Any]:
    lexicon = load_lexicon(learned=False)
    rows = load_corpus()
    extracted = [message_features(row["text"], lexicon) for row in rows]
    labels = [row["category"] for row in rows]
    vectorizer = DictVectorizer()
    matrix = vectorizer.fit_transform([names for names, _, _ in extracted])
    model = LogisticRegression(C=C, max_iter=5000)
    # Folds by writer: a threshold is chosen on voices the fold's model never read, as the
    # held-out part and the world are (folds of mixed messages share each writer's style and
    # chose thresholds that let more false alarms through on new voices).
    writers = [row["writer"] for row in rows]
    chances = cross_val_predict(
        model, matrix, labels, cv=GroupKFold(n_splits=5), groups=writers, method="predict_proba"
    )
    classes = sorted(set(labels))
    expect = [row["expect"] for row in rows]
    # Messages with a sign and those without are decided apart (the latter by ``flag_alone``
    # only: no rule found anything to lower), so each part is counted once per threshold and
    # the parts' counts are added for every combination.
    parts = {
        signed: [i for i, (_, _, sign) in enumerate(extracted) if sign == signed]
        for signed in (True, False)
    }

    def counted(signed: bool, flag: float, quiet: float) -> Counts:
        chosen = parts[signed]
        part = chances[chosen]
        decided = decisions(
            1 - part[:, classes.index(NONE)],
            part,
            classes,
            [extracted[i][1] for i in chosen],
            flag,
            quiet,
        )
        return counts([expect[i] for i in chosen], [labels[i] for i in chosen], decided)

    grid = [step / 50 for step in range(1, 50)]
    pairs = [(flag, quiet) for flag in grid for quiet in [*grid, 1.01] if quiet >= 1 - flag]
    with_sign = {pair: counted(True, *pair) for pair in pairs}
    without = {flag: counted(False, flag, 1.01) for flag in [*grid, NEVER]}
    # The triple (flag, quiet, flag_alone) that finds the most crisis messages while false
    # alarms stay within the budget; among equals, the most cautious flag (the lowest) and
    # quiet (the highest), and the flag_alone that lets the model alone flag least.
    results = {
        (flag, quiet, alone): figures(expect, _added(with_sign[flag, quiet], without[alone]))
        for flag, quiet in pairs
        for alone in without
        if alone >= flag
    }
    within = [
        key for key, result in results.items() if result["false alarms"] <= FALSE_ALARM_BUDGET
    ]
    flag, quiet, alone = max(
        within or results,
        key=lambda key: (results[key]["crisis recall"], -key[0], key[1], key[2]),
    )
    model.fit(matrix, labels)
    limits = {"flag": flag, "flag_alone": alone, "high": HIGH, "quiet": quiet}
    return _export(model, vectorizer, lexicon, rows, limits, results[flag, quiet, alone])


def _export(
    model: LogisticRegression,
    vectorizer: DictVectorizer,
    lexicon: Lexicon,
    rows: list[dict[str, Any]],
    limits: dict[str, float],
    cross_validated: dict[str, float],
) -> dict[str, Any]:
    coefficients = model.coef_.T  # features x classes
    weights = {
        name: [round(float(w), DIGITS) for w in coefficients[index]]
        for name, index in sorted(vectorizer.vocabulary_.items())
        if np.abs(coefficients[index]).max() >= KEEP_WEIGHT
    }
    digest = hashlib.sha256(
        json.dumps([[row["id"], row["text"], row["category"]] for row in rows]).encode()
    ).hexdigest()[:12]
    return {
        "version": f"{lexicon.version}+{digest}",
        "lexicon_version": lexicon.version,
        "trained_on": f"corpus/build ({len(rows)} messages, sha256 {digest})",
        "cross_validated": {name: round(value, 3) for name, value in cross_validated.items()},
        "classes": [str(name) for name in model.classes_],
        "bias": [round(float(b), DIGITS) for b in model.intercept_],
        "thresholds": {**limits, "quiet_high": QUIET_HIGH},
        "weights": weights,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare with the committed model")
    args = parser.parse_args(argv)
    trained = train()
    text = json.dumps(trained, sort_keys=True, separators=(",", ":")) + "\n"
    print(
        f"{trained['version']}: {len(trained['weights'])} features, thresholds "
        f"{trained['thresholds']}, cross-validated {trained['cross_validated']}",
        file=sys.stderr,
    )
    if args.check:
        same = MODEL.is_file() and MODEL.read_text(encoding="utf-8") == text
        print("the committed model is reproduced" if same else "the model differs", file=sys.stderr)
        return 0 if same else 1
    MODEL.write_text(text, encoding="utf-8")
    print(f"wrote {MODEL.relative_to(REPOSITORY)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
