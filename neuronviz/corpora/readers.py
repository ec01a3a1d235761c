"""Readers for the corpus formats neuron probing uses.

Each reader returns a :class:`~neuronviz.corpora.corpus.Corpus` or raises :class:`DataError` naming
the file and line. Files are decoded as UTF-8 (a BOM and Windows line endings are accepted);
anything else is reported, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from neuronviz.corpora.corpus import Corpus
from neuronviz.errors import DataError
from neuronviz.store.files import read_regular

__all__ = [
    "CONLL2000_COLUMNS",
    "CONLLU_COLUMNS",
    "PMB_COLUMNS",
    "read_columns",
    "read_conll2000",
    "read_conllu",
    "read_parallel",
    "read_pmb",
    "read_ptb",
    "read_text_lines",
]

CONLL2000_COLUMNS = ("word", "pos", "chunk")
PMB_COLUMNS = ("word", "tok", "sym", "sem", "ccg", "sense", "roles")
CONLLU_COLUMNS = ("id", "word", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")

_BINARY_SNIFF = 8192
_PLAIN = {"U+0020", "U+0009"}  # space and tab: the separators a reader expects to see
MAX_CORPUS_BYTES = 2 << 30  # read whole into memory: larger corpora are split into files


def _utf16_without_mark(head: bytes) -> bool:
    """Whether ``head`` reads as UTF-16 of mostly ASCII text: a NUL in every other byte."""
    for nul, text in ((head[1::2], head[0::2]), (head[0::2], head[1::2])):
        if len(nul) >= 4 and nul.count(0) >= 0.9 * len(nul) and text.count(0) == 0:
            return True
    return False


def read_text_lines(path: str | Path) -> list[str]:
    """Read a UTF-8 text file as lines without line endings.

    Raises DataError for a missing file, a directory, a binary file, bytes that are not UTF-8
    (naming the line) or an empty file.
    """
    p = Path(path)
    if p.is_dir():
        raise DataError(
            "is a directory, not a corpus file", path=p, hint="point at the file itself"
        )
    try:
        head = read_regular(p, MAX_CORPUS_BYTES, head=_BINARY_SNIFF)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or _utf16_without_mark(head):
            raise DataError(
                "looks like UTF-16 text",
                path=p,
                hint="convert the file to UTF-8, e.g. iconv -f utf-16 -t utf-8",
            )
        if b"\x00" in head:
            raise DataError(
                "looks like a binary file (it contains NUL bytes)",
                path=p,
                hint="give a text corpus",
            )
        raw = read_regular(p, MAX_CORPUS_BYTES)
    except FileNotFoundError:
        raise DataError("file not found", path=p) from None
    except OSError as exc:
        raise DataError(f"cannot be read: {exc.strerror}", path=p) from None
    except ValueError as exc:
        raise DataError(
            str(exc),
            path=p,
            hint="give a corpus file on disk; split a larger corpus into several files",
        ) from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            path=p,
            line=line,
            hint="convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8",
        ) from None
    if not text.strip():
        raise DataError("is empty", path=p, hint="give a file with at least one sentence")
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def _blocks(lines: Sequence[str]) -> Iterator[tuple[int, list[tuple[int, str]]]]:
    """Yield (first line number, [(line number, line)]) for each blank-line separated block."""
    block: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            block.append((number, line))
        elif block:
            yield block[0][0], block
            block = []
    if block:
        yield block[0][0], block


def read_columns(
    path: str | Path,
    names: Sequence[str],
    *,
    sep: str | None,
    is_comment=None,
    skip_row=None,
    word_column: int = 0,
) -> Corpus:
    """Read a one-token-a-line column format (CoNLL-style) with a fixed number of columns.

    Parameters
    ----------
    path : str or Path
        The file.
    names : sequence of str
        Column names; the first is the word column. Every token line must have exactly this many.
    sep : str or None
        Field separator; None splits on runs of whitespace.
    is_comment : callable, optional
        ``is_comment(line) -> bool`` for lines to ignore (e.g. ``#`` comments).
    skip_row : callable, optional
        ``skip_row(fields) -> bool`` for token lines to drop (e.g. CoNLL-U multiword ranges).
    word_column : int
        Index of the column holding the word form, which may not be empty or only whitespace.
    """
    p = Path(path)
    tokens: list[list[str]] = []
    columns: dict[str, list[list[str]]] = {n: [] for n in names[1:]}
    starts: list[int] = []
    for _, block in _blocks(read_text_lines(p)):
        rows = []
        for number, line in block:
            if is_comment is not None and is_comment(line):
                continue
            fields = line.split(sep) if sep is not None else line.split()
            if len(fields) != len(names):
                raise DataError(
                    f"expected {len(names)} columns ({' '.join(names)}), found {len(fields)}",
                    path=p,
                    line=number,
                    hint="fix the line or check that this is the right format",
                )
            if skip_row is not None and skip_row(fields):
                continue
            if not fields[word_column].strip():
                raise DataError("the word column is empty or only whitespace", path=p, line=number)
            rows.append(fields)
        if rows:
            tokens.append([r[0] for r in rows])
            for i, name in enumerate(names[1:], start=1):
                columns[name].append([r[i] for r in rows])
            starts.append(next(n for n, ln in block if not (is_comment and is_comment(ln))))
    if not tokens:
        raise DataError("contains no sentences", path=p, hint="check the format of the file")
    return Corpus(source=str(p), tokens=tokens, columns=columns, lines=starts)


def read_conll2000(path: str | Path) -> Corpus:
    """CoNLL-2000 chunking data: ``word POS chunk`` a line, blank line between sentences.

    A line starting with ``#`` is a token (the pound sign), not a comment.
    """
    return read_columns(path, CONLL2000_COLUMNS, sep=None)


def _pmb_comment(line: str) -> bool:
    return line.startswith("#") and line.split("\t", 1)[0] != "#"


def read_pmb(path: str | Path) -> Corpus:
    """Parallel Meaning Bank layer CoNLL: 7 tab-separated columns, ``#`` comment lines."""
    return read_columns(path, PMB_COLUMNS, sep="\t", is_comment=_pmb_comment)


def _conllu_skip(fields: Sequence[str]) -> bool:
    token_id = fields[0]
    return "-" in token_id or "." in token_id


def read_conllu(path: str | Path) -> Corpus:
    """CoNLL-U (Universal Dependencies): 10 tab-separated columns.

    Multiword-token ranges (``3-4``) and empty nodes (``5.1``) are skipped, so words align with
    the syntactic words that carry UPOS, XPOS, FEATS and DEPREL.
    """
    corpus = read_columns(
        path,
        CONLLU_COLUMNS,
        sep="\t",
        is_comment=lambda ln: ln.startswith("#"),
        skip_row=_conllu_skip,
        word_column=1,
    )
    lines: list[int | None] = list(corpus.lines) if corpus.lines else [None] * len(corpus)
    for ids, line in zip(corpus.tokens, lines, strict=True):
        if ids != [str(i) for i in range(1, len(ids) + 1)]:
            raise DataError(
                f"word ids run {' '.join(ids[:8])}{' ...' if len(ids) > 8 else ''} where CoNLL-U "
                "numbers a sentence's words 1, 2, 3, ... (duplicate, skipped, out-of-order or "
                "0 ids)",
                path=Path(path),
                line=line,
                hint="fix the id column of this sentence, or check that the file is CoNLL-U",
            )
    # In CoNLL-U the first column is the id and the form is the second.
    return Corpus(
        source=corpus.source,
        tokens=corpus.columns.pop("word"),
        columns={"id": corpus.tokens, **corpus.columns},
        lines=corpus.lines,
    )


_PTB_TOKEN = re.compile(r"\(|\)|[^\s()]+")


def _ptb_trees(path: Path, lines: Sequence[str]) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """Yield (line, [(tag, word)]) per top-level tree of a bracketed treebank file."""
    depth = 0
    leaves: list[tuple[str, str]] = []
    pending: list[str] = []  # tokens since the last "(", to recognise "(TAG word)"
    start = 0
    for number, line in enumerate(lines, start=1):
        for tok in _PTB_TOKEN.findall(line):
            if tok == "(":
                if depth == 0:
                    start, leaves = number, []
                depth += 1
                pending = ["("]
            elif tok == ")":
                if depth == 0:
                    raise DataError("unbalanced ')' in tree", path=path, line=number)
                if len(pending) == 3:
                    leaves.append((pending[1], pending[2]))
                depth -= 1
                pending = []
                if depth == 0:
                    yield start, leaves
            else:
                if depth == 0:
                    raise DataError(f"text {tok!r} outside any tree", path=path, line=number)
                pending.append(tok)
    if depth != 0:
        raise DataError(
            f"tree starting here is not closed ({depth} '(' open)", path=path, line=start
        )


def read_ptb(paths: Sequence[str | Path] | str | Path) -> Corpus:
    """Penn Treebank bracketed ``.mrg`` files: words and POS tags from the leaves.

    Trace leaves (tag ``-NONE-``) are dropped, as in every PTB POS-tagging setup.
    """
    files = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    tokens: list[list[str]] = []
    tags: list[list[str]] = []
    starts: list[int] = []
    for f in files:
        for line, leaves in _ptb_trees(f, read_text_lines(f)):
            kept = [(t, w) for t, w in leaves if t != "-NONE-"]
            if kept:
                tokens.append([w for _, w in kept])
                tags.append([t for t, _ in kept])
                starts.append(line)
    source = str(files[0]) if len(files) == 1 else f"{files[0].parent} ({len(files)} files)"
    if not tokens:
        raise DataError("contains no trees with words", path=source)
    return Corpus(source=source, tokens=tokens, columns={"pos": tags}, lines=starts)


def read_parallel(sentences: str | Path, labels: str | Path) -> Corpus:
    """Two parallel files: one tokenised sentence a line and its label sequence a line.

    This is the format of other neuron-analysis toolkits (NeuroX). Tokens and labels are
    separated by whitespace; blank lines must be blank in both files.
    """
    s_path, l_path = Path(sentences), Path(labels)
    s_lines, l_lines = read_text_lines(s_path), read_text_lines(l_path)
    while s_lines and not s_lines[-1].strip():
        s_lines.pop()
    while l_lines and not l_lines[-1].strip():
        l_lines.pop()
    if len(s_lines) != len(l_lines):
        raise DataError(
            f"has {len(s_lines)} sentences but {l_path} has {len(l_lines)} label lines",
            path=s_path,
            hint="the two files must have one line per sentence each",
        )
    tokens: list[list[str]] = []
    tags: list[list[str]] = []
    starts: list[int] = []
    for number, (s_line, l_line) in enumerate(zip(s_lines, l_lines, strict=True), start=1):
        words, labs = s_line.split(), l_line.split()
        if len(words) != len(labs):
            unusual = sorted({f"U+{ord(c):04X}" for c in s_line + l_line if c.isspace()} - _PLAIN)
            raise DataError(
                f"sentence has {len(words)} tokens but its label line has {len(labs)} labels"
                + (
                    f" (the lines hold separators that are easy to miss: {', '.join(unusual)})"
                    if unusual
                    else ""
                ),
                path=s_path,
                line=number,
                hint=f"compare with {l_path}:{number}",
            )
        if words:
            tokens.append(words)
            tags.append(labs)
            starts.append(number)
    if not tokens:
        raise DataError("contains no sentences", path=s_path)
    return Corpus(source=str(s_path), tokens=tokens, columns={"label": tags}, lines=starts)
