"""Labelled data: the bundled sets under ``training/data/`` and any labelled CSV/JSONL file.

Each loader yields :class:`Example` rows with a ``spam`` and an ``abuse`` label (``None`` where
a set says nothing about that head), the set's name and a *group* (source file, video, forum
post, article topic). Splits are made by group, so near-duplicates of one post never straddle
train and test.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from moderation.ml.features import CommentInput, normalise

Split = Literal["train", "validation", "test"]


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled comment."""

    content: str
    spam: int | None
    abuse: int | None
    dataset: str
    group: str
    author: str = ""
    email: str = ""
    url: str = ""
    split: Split | None = None  # set where the data set publishes its own split
    source: str = ""  # the file within a set (the team's own replies come in several kinds)

    def as_input(self) -> CommentInput:
        """The scoring input for this example."""
        return CommentInput(self.content, self.author, self.email, self.url)

    def label(self, head: str) -> int | None:
        """The label of ``head`` (``"spam"`` or ``"abuse"``)."""
        return self.spam if head == "spam" else self.abuse


def _youtube(folder: Path) -> Iterator[Example]:
    # One video per file; the videos are the groups, assigned to splits by hand so that each
    # split has a whole video: two for training, one for validation, one for test.
    video_split: dict[str, Split] = {
        "Psy": "train",
        "KatyPerry": "train",
        "LMFAO": "validation",
        "Eminem": "test",
    }
    for path in sorted(folder.glob("Youtube0*.csv")):
        video = path.stem.split("-", 1)[1]
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                yield Example(
                    content=row["CONTENT"].replace("\ufeff", "").strip(),
                    author=row["AUTHOR"],
                    spam=int(row["CLASS"]),
                    abuse=None,  # labelled for spam only; some "ham" comments are rude
                    dataset="youtube",
                    group=video,
                    split=video_split.get(video),
                )


def _sms(folder: Path) -> Iterator[Example]:
    text = (folder / "SMSSpamCollection").read_text(encoding="utf-8")
    for line in text.split("\n"):
        if not line.strip():
            continue
        label, _, message = line.partition("\t")
        # SMS is another medium: it teaches the spam head, and says nothing about abuse.
        yield Example(message, spam=int(label == "spam"), abuse=None, dataset="sms", group=message)


def _davidson(folder: Path) -> Iterator[Example]:
    with (folder / "labeled_data.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            tweet = row["tweet"]
            # class 0 hate speech, 1 offensive, 2 neither; tweets are not comment spam.
            yield Example(
                tweet,
                spam=0,
                abuse=int(row["class"] in ("0", "1")),
                dataset="davidson",
                group=tweet,
            )


_SENTENCE_RE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")


def _toxic_spans(folder: Path) -> Iterator[Example]:
    """Toxic news comments, labelled sentence by sentence from their toxic spans.

    Every post is toxic as a whole, but the annotators marked which characters are. A sentence
    holding a marked character is abusive; the other sentences of the post are plain
    news-comment prose, the civil examples this set otherwise lacks. Posts with no marked
    characters are skipped (nothing says which part is toxic). The published
    train/trial/test files are the split, so a post's sentences always share one.
    """
    splits: dict[str, Split] = {"tsd_train": "train", "tsd_trial": "validation", "tsd_test": "test"}
    for stem, split in splits.items():
        with (folder / f"{stem}.csv").open(encoding="utf-8", newline="") as fh:
            for number, row in enumerate(csv.DictReader(fh)):
                text = row["text"]
                toxic = set(json.loads(row["spans"]))
                if not toxic:
                    continue
                group = f"{stem}:{number}"
                for match in _SENTENCE_RE.finditer(text):
                    sentence = match.group().strip()
                    is_toxic = not toxic.isdisjoint(range(match.start(), match.end()))
                    if not is_toxic and len(sentence.split()) < 6:
                        continue  # short fragments of a toxic post carry its context
                    if sentence:
                        yield Example(
                            sentence,
                            spam=0,
                            abuse=int(is_toxic),
                            dataset="toxic_spans",
                            group=group,
                            split=split,
                        )


def _stormfront(folder: Path) -> Iterator[Example]:
    with (folder / "annotations_metadata.csv").open(encoding="utf-8", newline="") as fh:
        labels = {row["file_id"]: row["label"] for row in csv.DictReader(fh)}
    with tarfile.open(folder / "hate-speech-dataset-files.tar.gz", "r:gz") as tar:
        for member in tar:
            path = Path(member.name)
            if path.parent.name != "all_files" or path.stem not in labels:
                continue
            label = labels[path.stem]
            if label not in ("hate", "noHate"):
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            sentence = handle.read().decode("utf-8").strip()
            # Sentences of one post share the prefix before "_": the post is the group.
            post = path.stem.split("_", 1)[0]
            yield Example(
                sentence, spam=0, abuse=int(label == "hate"), dataset="stormfront", group=post
            )


def _civil_comments(folder: Path) -> Iterator[Example]:
    """Civil Comments posts that most crowd raters found toxic: abusive news comments."""
    with (folder / "test_toxic.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            text = row["comment_text"].strip()
            yield Example(text, spam=0, abuse=1, dataset="civil_comments", group=text)


# ParaDetox's toxic side is lower-cased and tokenised ("you 're", "idiot ."); its rewrites are
# as typed. normalise() lower-cases both; this undoes the tokenisation, so neither spacing nor
# case says which side a sentence came from.
_DETOKENISE = (
    (re.compile(r" ([.,!?;:%)\]}])"), r"\1"),
    (re.compile(r"([(\[{$]) "), r"\1"),
    (re.compile(r" (n't|'t|'s|'re|'ve|'d|'ll|'m)\b", re.IGNORECASE), r"\1"),
    (re.compile(r"([.!?,])(?=[.!?,])"), r"\1"),
)
# Rows that repeat the evaluation data of the team that published the shared folder
# (paradetox/SOURCE.md, "Checks done here").
_PARADETOX_DROPPED = frozenset(
    {
        "are you fucking kidding me ?",
        "what the fuck did you think would happen ?",
        "what the fuck is going on with turkey ?",
        "What are you talking about?",
        "what are you talking about ?",
        "I don't know what to do.",
    }
)


def detokenise(text: str) -> str:
    """Undo word tokenisation: no space before punctuation or inside contractions."""
    for pattern, repl in _DETOKENISE:
        text = pattern.sub(repl, text)
    return " ".join(text.split())


def _paradetox(folder: Path) -> Iterator[Example]:
    """Toxic sentences and their civil rewrites (a pair shares a group, so a split keeps it).

    A rewrite that says the same as its source means the source was not toxic: that source is
    dropped and the rewrite kept as civil. Of the sentences workers could not rewrite, those
    marked "toxic_content" (no civil core) are abusive; the others are skipped.
    """
    with (folder / "paradetox.tsv").open(encoding="utf-8", newline="") as fh:
        for number, row in enumerate(csv.DictReader(fh, delimiter="\t")):
            group = f"pair:{number}"
            toxic = (row.get("toxic") or "").strip()
            rewrites = [
                (row.get(f"neutral{i}") or "").strip()
                for i in (1, 2, 3)
                if (row.get(f"neutral{i}") or "").strip() not in ("", *_PARADETOX_DROPPED)
            ]
            same = {_canonical(detokenise(r)) for r in rewrites}
            if (
                toxic
                and toxic not in _PARADETOX_DROPPED
                and _canonical(detokenise(toxic)) not in same
            ):
                yield Example(detokenise(toxic), spam=0, abuse=1, dataset="paradetox", group=group)
            for rewrite in rewrites:
                yield Example(
                    detokenise(rewrite), spam=0, abuse=0, dataset="paradetox", group=group
                )
    with (folder / "paradetox_cannot_rewrite.tsv").open(encoding="utf-8", newline="") as fh:
        for number, fields in enumerate(csv.reader(fh, delimiter="\t")):
            if number == 0 or len(fields) < 3:
                continue
            text, reasons = fields[1].strip(), json.loads(fields[2] or "{}")
            if text.startswith('"') and text.endswith('"'):
                text = text[1:-1]
            if reasons.get("toxic_content") is True and text:
                yield Example(
                    detokenise(text), spam=0, abuse=1, dataset="paradetox", group=f"cannot:{number}"
                )


def _wikipedia_talk(folder: Path) -> Iterator[Example]:
    """Wikipedia talk-page comments that crowd raters found civil: argumentative discussion.

    The ~1% labelled toxic are left out: too few to teach anything, often borderline, and a
    class that small would get an outsized weight when each set's classes weigh the same.
    """
    for name in ("gn.csv", "gc.csv"):
        with (folder / name).open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                text = row["text"].strip()
                # One row repeats the evaluation data (wikipedia-talk-cat-large/SOURCE.md).
                if row["label"] != "0" or text == "What are you talking about?":
                    continue
                yield Example(text, spam=0, abuse=0, dataset="wikipedia", group=row["id"])


_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")


def _tg_spam(folder: Path) -> Iterator[Example]:
    """The English (Latin-script) scam messages of the tg-spam sample list."""
    for line in (folder / "spam-samples.txt").read_text(encoding="utf-8").split("\n"):
        text = line.strip()
        if text and not _CYRILLIC_RE.search(text):
            yield Example(text, spam=1, abuse=0, dataset="tg_spam", group=text)


def _canonical(text: str) -> str:
    return " ".join(normalise(text).split())


def _jsonl_rows(path: Path) -> Iterator[dict[str, object]]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError(f"{path}:{number}: expected a JSON object")
                yield row


_OWN_LABELS = {"ham": (0, 0), "spam": (1, 0), "abuse": (0, 1)}


def _own(folder: Path, dataset: str | None = None) -> Iterator[Example]:
    """The team's own article replies: JSONL with content/author/email/url/label/topic.

    Civil replies are grouped by the article they answer. For spam and abuse the "topic" is
    the kind (pharma, threat, ...); grouping by it would hold whole kinds out of training, so
    each of those replies is its own group.
    """
    for path in sorted(folder.glob("*.jsonl")):
        for row in _jsonl_rows(path):
            label = str(row["label"])
            spam, abuse = _OWN_LABELS[label]
            topic = str(row.get("topic") or path.stem)
            yield Example(
                content=str(row["content"]),
                author=str(row.get("author") or ""),
                email=str(row.get("email") or ""),
                url=str(row.get("url") or ""),
                spam=spam,
                abuse=abuse,
                dataset=dataset or path.stem,
                group=topic if label == "ham" else str(row["content"]),
                source=path.stem,
            )


_BUNDLED: tuple[tuple[str, Callable[[Path], Iterator[Example]]], ...] = (
    ("youtube-spam-collection", _youtube),
    ("sms-spam-collection", _sms),
    ("davidson-hate-offensive", _davidson),
    ("civil-comments-toxic-spans", _toxic_spans),
    ("stormfront-hate-speech", _stormfront),
    ("civil-comments-toxic", _civil_comments),
    ("paradetox", _paradetox),
    ("wikipedia-talk-cat-large", _wikipedia_talk),
    ("tg-spam-samples", _tg_spam),
    ("own", lambda folder: _own(folder, "own")),
)


def load_bundled(data_dir: Path) -> list[Example]:
    """All training sets found under ``data_dir``, deduplicated (never the held-out set).

    A set whose folder is missing is skipped, so a site can train on its own folder alone.
    """
    examples = (
        example
        for name, loader in _BUNDLED
        if (data_dir / name).is_dir()
        for example in loader(data_dir / name)
    )
    return deduplicate(examples)


def load_holdout(data_dir: Path) -> list[Example]:
    """The held-out realistic article replies, used only for evaluation.

    Each file is its own set, named ``holdout_<file stem>``.
    """
    folder = data_dir / "holdout"
    if not folder.is_dir():
        return []
    return deduplicate(replace(e, dataset=f"holdout_{e.dataset}") for e in _own(folder))


def deduplicate(examples: Iterable[Example]) -> list[Example]:
    """Drop empty texts and repeats of a normalised text (the first occurrence wins)."""
    seen: set[str] = set()
    out: list[Example] = []
    for example in examples:
        key = _canonical(example.content)
        if key and key not in seen:
            seen.add(key)
            out.append(example)
    return out


def assign_split(example: Example) -> Split:
    """The example's split: the set's own, else 70/15/15 by a hash of its group."""
    if example.split is not None:
        return example.split
    digest = hashlib.sha256(f"{example.dataset}:{example.group}".encode()).digest()
    bucket = int.from_bytes(digest[:4], "big") % 100
    if bucket < 70:
        return "train"
    return "validation" if bucket < 85 else "test"


def with_splits(examples: Iterable[Example]) -> list[Example]:
    """Examples with ``split`` filled in."""
    return [replace(e, split=assign_split(e)) for e in examples]


# ---------------------------------------------------------------------------------------
# Any labelled file, for `moderation evaluate --data FILE`
# ---------------------------------------------------------------------------------------

_TEXT_KEYS = ("content", "text", "comment", "comment_text", "comment_content", "tweet", "CONTENT")
_LABEL_KEYS = ("label", "class", "CLASS", "is_spam", "is_abuse", "toxic", "spam", "abuse")
_POSITIVE = {"1", "true", "yes", "spam", "abuse", "abusive", "toxic", "hate", "offensive", "bad"}
_NEGATIVE = {"0", "false", "no", "ham", "clean", "ok", "not_spam", "nohate", "neither", "good"}


def _parse_label(value: object) -> tuple[int | None, int | None]:
    """(spam, abuse) from a label value; a bare 0/1 label counts for both heads."""
    text = str(value).strip().lower()
    if text == "spam":
        return 1, 0
    if text in {"abuse", "abusive", "toxic", "hate", "offensive"}:
        return 0, 1
    if text in _POSITIVE:
        return 1, 1
    if text in _NEGATIVE:
        return 0, 0
    raise ValueError(f"unknown label {value!r}")


def load_labelled_file(path: Path) -> list[Example]:
    """Read a labelled CSV or JSONL file with a text column and a label column.

    Labels may be ``ham``/``spam``/``abuse`` (one row labels both heads), or 0/1. Columns named
    ``spam`` and ``abuse`` give each head its own label. ``author``, ``email``, ``url`` and
    ``group`` are used when present.
    """
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        rows: list[dict[str, object]] = list(_jsonl_rows(path))
    else:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = [dict(r) for r in csv.DictReader(fh)]
    if not rows:
        raise ValueError(f"{path}: no rows")
    text_key = next((k for k in _TEXT_KEYS if k in rows[0]), None)
    if text_key is None:
        raise ValueError(f"{path}: no text column (one of {', '.join(_TEXT_KEYS)})")
    examples = []
    for number, row in enumerate(rows, 1):
        try:
            if "spam" in row or "abuse" in row:
                spam = None if row.get("spam") in (None, "") else _parse_label(row["spam"])[0]
                abuse = None if row.get("abuse") in (None, "") else _parse_label(row["abuse"])[0]
                spam = spam if spam is None else int(str(row["spam"]).strip().lower() in _POSITIVE)
                abuse = (
                    abuse if abuse is None else int(str(row["abuse"]).strip().lower() in _POSITIVE)
                )
            else:
                label_key = next((k for k in _LABEL_KEYS if k in row), None)
                if label_key is None:
                    raise ValueError("no label column")
                spam, abuse = _parse_label(row[label_key])
        except ValueError as exc:
            raise ValueError(f"{path}: row {number}: {exc}") from exc
        examples.append(
            Example(
                content=str(row[text_key] or ""),
                author=str(row.get("author") or ""),
                email=str(row.get("email") or ""),
                url=str(row.get("url") or ""),
                spam=spam,
                abuse=abuse,
                dataset=path.stem,
                group=str(row.get("group") or row.get("topic") or number),
            )
        )
    return examples
