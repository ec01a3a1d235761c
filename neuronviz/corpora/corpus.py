"""The in-memory form of an annotated corpus: sentences of tokens with label columns."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Corpus", "tokens_digest"]


@dataclass(frozen=True)
class Corpus:
    """Tokenised sentences of one corpus file (or file set) with every label column by name.

    Attributes
    ----------
    source : str
        The file (or folder) the sentences were read from, for messages and provenance.
    tokens : list of list of str
        ``tokens[s][w]`` is word ``w`` of sentence ``s``.
    columns : dict of str to list of list of str
        Label columns, each aligned with ``tokens`` word for word.
    lines : list of int
        1-based line number of each sentence's first token in ``source`` (0 when unknown).
    """

    source: str
    tokens: list[list[str]]
    columns: dict[str, list[list[str]]] = field(default_factory=dict)
    lines: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def n_words(self) -> int:
        """Total number of words over all sentences."""
        return sum(len(sentence) for sentence in self.tokens)

    def select(self, indices: Sequence[int] | range) -> Corpus:
        """Return the sentences at ``indices`` (in that order) as a new corpus."""
        idx = list(indices)
        return Corpus(
            source=self.source,
            tokens=[self.tokens[i] for i in idx],
            columns={name: [col[i] for i in idx] for name, col in self.columns.items()},
            lines=[self.lines[i] for i in idx] if self.lines else [],
        )

    @staticmethod
    def concat(parts: Sequence[Corpus], source: str) -> Corpus:
        """Join corpora with the same columns, in order (used for multi-file corpora)."""
        names = list(parts[0].columns) if parts else []
        return Corpus(
            source=source,
            tokens=[s for p in parts for s in p.tokens],
            columns={n: [s for p in parts for s in p.columns[n]] for n in names},
            lines=[ln for p in parts for ln in (p.lines or [0] * len(p))],
        )


def tokens_digest(tokens: Sequence[Sequence[str]]) -> str:
    """SHA-256 of the exact token content, sentence boundaries included.

    Two selections of sentences (a different cap, a different split) give different digests, so
    it keys the activation cache more precisely than file checksums alone.
    """
    h = hashlib.sha256()
    for sentence in tokens:
        h.update("\x1f".join(sentence).encode("utf-8"))
        h.update(b"\x1e")
    return h.hexdigest()
