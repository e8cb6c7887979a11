"""Model speed benchmark: load time, one comment, a batch, training time and memory.

Run by hand (``make bench``); it prints figures, it asserts nothing. Scoring runs pinned to
one core with BLAS threads at 1. Training runs ``moderation train`` into a temporary folder
as a child process and reads its wall time and peak resident memory.

    python benchmarks/bench_model.py [--skip-train] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moderation.ml import artifacts  # noqa: E402
from moderation.ml.datasets import load_bundled, load_holdout  # noqa: E402
from moderation.ml.features import to_rows  # noqa: E402
from moderation.ml.language import detect  # noqa: E402
from moderation.ml.model import CompiledHead  # noqa: E402
from moderation.services.scoring import SklearnScorer  # noqa: E402


def main() -> None:
    """Run the benchmark and print a small report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    models_dir = ROOT / "models"
    version = artifacts.active_version(models_dir)
    assert version, "no model in models/"
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"model: {version}")

    loads = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        artifact = artifacts.load_model(models_dir / version)
        loads.append(time.perf_counter() - started)
    print(f"model load (both heads, verified): median {statistics.median(loads) * 1000:.0f} ms")

    scorer = SklearnScorer(artifact)
    data = ROOT / "training" / "data"
    replies = [e.as_input() for e in load_holdout(data)]
    corpus = [e.as_input() for e in load_bundled(data)]
    for comment in replies[:200]:
        scorer.score(comment)  # warm up

    for label, work in (
        ("both heads", scorer.score),
        ("both heads + language detection", lambda c: (scorer.score(c), detect(c.content))),
    ):
        timings = []
        for _ in range(args.repeat):
            for comment in replies:
                started = time.perf_counter_ns()
                work(comment)
                timings.append(time.perf_counter_ns() - started)
        timings.sort()
        print(
            f"one comment, {label} ({len(timings)} calls on held-out replies): "
            f"median {statistics.median(timings) / 1e6:.3f} ms, "
            f"mean {statistics.mean(timings) / 1e6:.3f} ms, "
            f"p99 {timings[int(len(timings) * 0.99)] / 1e6:.3f} ms"
        )

    # Why the serving path evaluates a head itself (CompiledHead) instead of predict_proba.
    row = to_rows([replies[0]])
    compiled = CompiledHead(artifact.pipelines["spam"])
    for label, one in (
        ("pipeline.predict_proba", lambda: artifact.pipelines["spam"].predict_proba(row)),
        ("CompiledHead.probability", lambda: compiled.probability(row[0])),
    ):
        timings = []
        for _ in range(args.repeat * 200):
            started = time.perf_counter_ns()
            one()
            timings.append(time.perf_counter_ns() - started)
        print(f"one comment, one head, {label}: median {statistics.median(timings) / 1e6:.3f} ms")

    for name, batch in (
        ("training comments", corpus[:20000]),
        ("held-out article replies, repeated", replies * 20),
    ):
        rates = []
        for _ in range(3):
            started = time.perf_counter()
            scorer.score_many(batch)
            rates.append(len(batch) / (time.perf_counter() - started))
        mean_chars = statistics.mean(len(c.content) for c in batch)
        print(
            f"batch of {len(batch)} {name} (mean {mean_chars:.0f} chars), one core: "
            f"{statistics.median(rates):,.0f} comments/s"
        )

    if args.skip_train:
        return
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run(
            [
                str(Path(sys.executable).parent / "moderation"),
                "train",
                "--models-dir",
                tmp,
            ],
            check=True,
            capture_output=True,
        )
        seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"training the default model (moderation train, with the peer comparison): "
        f"{seconds:.1f} s wall, peak RSS {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
