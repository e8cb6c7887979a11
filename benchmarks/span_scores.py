"""The Perspective API's span scores on a few comments, with the active model (docs/perspective.md).

Run by hand; it prints figures, it asserts nothing. Each span's score is computed as
``comments:analyze`` computes it with ``spanAnnotations: true``.

    python benchmarks/span_scores.py [--models-dir models]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from moderation.ml.artifacts import active_version, load_model
from moderation.ml.features import CommentInput
from moderation.services.scoring import SklearnScorer
from moderation.web.perspective import span_scores

EXAMPLES = [
    ("abuse", "you are a f4cking idiot"),
    ("abuse", "The minister's figures on housing look optimistic to me."),
    ("spam", "Buy cheap viagra now at www.pills-cheap.xyz best prices!!!"),
    ("abuse", "you"),
    ("abuse", "minister"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    args = parser.parse_args()
    version = active_version(args.models_dir)
    if version is None:
        raise SystemExit(f"no active model in {args.models_dir}")
    scorer = SklearnScorer(load_model(args.models_dir / version))
    print(f"model {scorer.version}")
    for head, text in EXAMPLES:
        comment = CommentInput(text)
        summary = scorer.score(comment)[head]
        explanation = scorer.explain(comment, top=10**6, complete=True)[head]
        spans = span_scores(summary, explanation)
        shown = ", ".join(
            f"{text[s['begin'] : s['end']]!r} {s['score']['value']:.3f}" for s in spans
        )
        print(f"{head} {summary:.5f} {text!r}: {shown}")


if __name__ == "__main__":
    main()
