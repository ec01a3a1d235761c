"""Batched extraction of every neuron's activation for every word.

Sentences are tokenised once up front (fast tokenizer, character offsets mapped to words), cut
into windows only when longer than the model's window, sorted by length and packed into batches
under a token budget. The hot loop is one forward pass per batch plus one gather per layer; the
resulting ``(layers, words, hidden)`` float16 blocks go to a *sink* (the on-disk cache writer, or
memory for small inputs). One vector per word: its ``last`` subword (the paper's choice), its
``first``, or the ``mean`` of its subwords.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Protocol

import numpy as np
import torch

from neuronviz.errors import ConfigError, ModelError
from neuronviz.models.loading import LoadedModel
from neuronviz.progress import Progress, ProgressCallback

__all__ = [
    "AGGREGATIONS",
    "Batch",
    "ExtractionSettings",
    "MemorySink",
    "Sink",
    "TokenizedCorpus",
    "extract_words",
    "plan_batches",
    "run_extraction",
    "tokenize_words",
]

log = logging.getLogger(__name__)

AGGREGATIONS = ("last", "first", "mean")
MAX_BATCH_SENTENCES = 256


@dataclass(frozen=True)
class ExtractionSettings:
    """How words become vectors.

    Attributes
    ----------
    aggregation : {"last", "first", "mean"}, default="last"
        Which subword(s) of a word give its vector.
    max_length : int, optional
        Most tokens per forward pass; defaults to the model's window. Longer sentences are
        processed in overlapping windows, so no word is dropped.
    batch_tokens : int, optional
        Padded tokens per batch; defaults to 4096 on CPU and 32768 on GPU.
    """

    aggregation: str = "last"
    max_length: int | None = None
    batch_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.aggregation not in AGGREGATIONS:
            raise ConfigError(
                f"unknown aggregation {self.aggregation!r}",
                hint=f"use one of {', '.join(AGGREGATIONS)}",
            )
        if self.max_length is not None and self.max_length < 8:
            raise ConfigError(f"max_length must be at least 8 tokens, got {self.max_length}")
        if self.batch_tokens is not None and self.batch_tokens < 1:
            raise ConfigError(f"batch_tokens must be positive, got {self.batch_tokens}")

    def window(self, model: LoadedModel) -> int:
        return min(self.max_length or model.window, model.window)

    def tokens_per_batch(self, model: LoadedModel) -> int:
        return self.batch_tokens or (32768 if model.device.type == "cuda" else 4096)


@dataclass
class TokenizedCorpus:
    """Sentences as token-id pieces, with which token gives which word vector.

    A piece is a whole sentence, or a window of a long one; it outputs the words
    ``[keep_from, keep_from + n_keep)`` of its own word list into the output rows starting at
    ``row_start``. ``select[p]`` holds token positions (first/last aggregation) and ``members[p]``
    the (token position, kept word) pairs (mean aggregation).
    """

    ids: list[np.ndarray]
    select: list[np.ndarray]
    members: list[tuple[np.ndarray, np.ndarray]]
    row_start: np.ndarray
    n_keep: np.ndarray
    n_words: int
    windowed_sentences: int = 0
    truncated_words: int = 0
    replaced_words: int = 0

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(x) for x in self.ids), dtype=np.int64, count=len(self.ids))


@dataclass(frozen=True)
class Batch:
    """Pieces processed together; ``index`` is the batch's position in the plan."""

    index: int
    pieces: np.ndarray


class Sink(Protocol):
    """Where extracted word vectors go."""

    def write(self, row_starts: Sequence[int], counts: Sequence[int], block: np.ndarray) -> None:
        """Store ``block[:, a:a+count]`` (layers x words x hidden) at rows ``row_start``..."""


@dataclass
class MemorySink:
    """Collects all word vectors in memory as one ``(layers, words, hidden)`` array."""

    array: np.ndarray

    def write(self, row_starts: Sequence[int], counts: Sequence[int], block: np.ndarray) -> None:
        offset = 0
        for start, count in zip(row_starts, counts, strict=True):
            self.array[:, start : start + count] = block[:, offset : offset + count]
            offset += count


# ---------------------------------------------------------------- tokenisation


def _token_words(encoding: dict, texts_words: Sequence[Sequence[str]]) -> list[np.ndarray]:
    """Word index of every token of every text (-1 for special tokens), vectorised over the batch.

    Text ``i`` is ``" ".join(texts_words[i])``. A token belongs to the word holding its last
    character; a token with an empty span, or one that is only the space before a word, belongs
    to the next word. All texts are placed end to end in one coordinate system so a single
    ``searchsorted`` maps every token at once.
    """
    lengths = np.fromiter((len(ids) for ids in encoding["input_ids"]), dtype=np.int64)
    flat = list(chain.from_iterable(encoding["offset_mapping"]))
    offsets = np.asarray(flat, dtype=np.int64).reshape(-1, 2)
    special = np.fromiter(
        chain.from_iterable(encoding["special_tokens_mask"]), dtype=bool, count=len(flat)
    )
    word_counts = np.fromiter((len(w) for w in texts_words), dtype=np.int64)
    word_sizes = np.fromiter((len(w) + 1 for ws in texts_words for w in ws), dtype=np.int64)
    word_ends = np.cumsum(word_sizes) - 1  # end (exclusive) of each word, all texts end to end
    first_word = np.concatenate([[0], np.cumsum(word_counts)[:-1]])
    text_base = np.concatenate([[0], word_ends])[first_word] + (first_word > 0)
    sentence = np.repeat(np.arange(len(lengths)), lengths)
    pos = np.where(offsets[:, 1] > offsets[:, 0], offsets[:, 1] - 1, offsets[:, 0])
    words = (
        np.searchsorted(word_ends, pos + text_base[sentence], side="right") - first_word[sentence]
    )
    words = np.minimum(words, word_counts[sentence] - 1)
    words[special] = -1
    return np.split(words, np.cumsum(lengths)[:-1])


def _encode(tokenizer: Any, texts: list[str], window: int | None = None) -> dict:
    kwargs = {"truncation": True, "max_length": window} if window else {}
    try:
        return tokenizer(
            texts,
            add_special_tokens=True,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            return_attention_mask=False,
            verbose=False,
            **kwargs,
        )
    except (NotImplementedError, TypeError, ValueError) as exc:
        raise ModelError(
            f"the tokenizer cannot map tokens to words ({exc})",
            hint="neuronviz needs a fast tokenizer with offset mapping",
        ) from None


def tokenize_words(
    tokenizer: Any, sentences: Sequence[Sequence[str]], window: int
) -> TokenizedCorpus:
    """Tokenise pre-split sentences and map every token to its word.

    Words are joined by single spaces and tokenised as running text (so byte-level BPE models see
    ``" cat"`` as in normal text); token character offsets map tokens to words. A word the
    tokenizer drops entirely (e.g. a control character) is replaced by the unknown token and
    counted. Sentences longer than ``window`` tokens become overlapping windows.
    """
    words_of: list[list[str]] = [list(s) for s in sentences]
    if not words_of:
        return TokenizedCorpus([], [], [], np.zeros(0, np.int64), np.zeros(0, np.int64), 0)
    enc = _encode(tokenizer, [" ".join(s) for s in words_of])
    token_words = _token_words(enc, words_of)
    unk = getattr(tokenizer, "unk_token", None) or "?"
    replaced = 0
    for i, words in enumerate(words_of):
        tw = token_words[i]
        counts = np.bincount(tw[tw >= 0], minlength=len(words))
        if (counts == 0).any():
            replaced += int((counts == 0).sum())
            words_of[i] = [unk if c == 0 else w for w, c in zip(words, counts, strict=True)]
            one = _encode(tokenizer, [" ".join(words_of[i])])
            enc["input_ids"][i] = one["input_ids"][0]
            token_words[i] = _token_words(one, [words_of[i]])[0]
    if replaced:
        log.warning("%d word(s) produced no tokens and were replaced by %r", replaced, unk)

    plan = _PiecePlan(window)
    row = 0
    for i, words in enumerate(words_of):
        ids = np.asarray(enc["input_ids"][i], dtype=np.int64)
        if len(ids) <= window:
            plan.add(ids, token_words[i], 0, len(words), row)
        else:
            plan.windows.append((i, row))
        row += len(words)
    if plan.windows:
        _add_windows(tokenizer, words_of, token_words, plan)
    order = np.argsort(plan.row_start, kind="stable")
    return TokenizedCorpus(
        ids=[plan.ids[k] for k in order],
        select=[plan.select[k] for k in order],
        members=[plan.members[k] for k in order],
        row_start=np.asarray(plan.row_start, dtype=np.int64)[order],
        n_keep=np.asarray(plan.n_keep, dtype=np.int64)[order],
        n_words=row,
        windowed_sentences=len(plan.windows),
        truncated_words=plan.truncated,
        replaced_words=replaced,
    )


@dataclass
class _PiecePlan:
    window: int
    ids: list[np.ndarray] = field(default_factory=list)
    select: list[np.ndarray] = field(default_factory=list)
    members: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    row_start: list[int] = field(default_factory=list)
    n_keep: list[int] = field(default_factory=list)
    windows: list[tuple[int, int]] = field(default_factory=list)
    truncated: int = 0

    def add(
        self, ids: np.ndarray, words: np.ndarray, keep_from: int, keep_to: int, row: int
    ) -> None:
        """Add a piece whose words ``keep_from..keep_to`` go to rows from ``row``."""
        positions = np.flatnonzero((words >= keep_from) & (words < keep_to))
        kept = words[positions] - keep_from
        boundary = np.flatnonzero(np.diff(kept)) if len(kept) else np.array([], dtype=np.int64)
        first = positions[np.r_[0, boundary + 1]] if len(kept) else positions
        last = positions[np.r_[boundary, len(kept) - 1]] if len(kept) else positions
        if len(np.unique(kept)) != keep_to - keep_from:
            raise ModelError(
                f"the tokenizer gave no tokens to some of words {keep_from}..{keep_to - 1} of a window",
                hint="report this with the sentence; try a larger --max-length",
            )
        self.ids.append(ids)
        self.select.append(np.stack([first, last]))
        self.members.append((positions, kept))
        self.row_start.append(row + keep_from)
        self.n_keep.append(keep_to - keep_from)


def _add_windows(
    tokenizer: Any, sentences: list[list[str]], token_words: list[np.ndarray], plan: _PiecePlan
) -> None:
    """Cut long sentences into windows with left context; tokenise all windows in one call."""
    specs = []  # (sentence, context start, keep start, keep end, row of sentence)
    for i, row in plan.windows:
        tw = token_words[i]
        n_special = int((tw < 0).sum())
        budget = max(1, plan.window - n_special)
        per_word = np.bincount(tw[tw >= 0], minlength=len(sentences[i]))
        for ctx, start, end in _window_bounds(per_word, budget):
            specs.append((i, ctx, start, end, row))
            plan.truncated += int(end - start == 1 and per_word[start] > budget)
    texts = [" ".join(sentences[i][ctx:end]) for i, ctx, _, end, _ in specs]
    enc = _encode(tokenizer, texts, window=plan.window)
    piece_words = _token_words(enc, [sentences[i][ctx:end] for i, ctx, _, end, _ in specs])
    for k, (_, ctx, start, end, row) in enumerate(specs):
        tw = piece_words[k]
        plan.add(
            np.asarray(enc["input_ids"][k], dtype=np.int64), tw, start - ctx, end - ctx, row + ctx
        )
    log.warning(
        "%d sentence(s) longer than the %d-token window were processed in overlapping windows%s",
        len(plan.windows),
        plan.window,
        f"; {plan.truncated} over-long word(s) were truncated to the window"
        if plan.truncated
        else "",
    )


def _window_bounds(per_word: np.ndarray, budget: int) -> Iterable[tuple[int, int, int]]:
    """Yield (context start, keep start, keep end) word ranges covering every word once.

    Each window after the first carries up to a quarter of the budget as left context, whose
    outputs are discarded, so every kept word sees some preceding text.
    """
    n = len(per_word)
    start = 0
    while start < n:
        ctx, ctx_tokens = start, 0
        while ctx > 0 and ctx_tokens + per_word[ctx - 1] <= budget // 4:
            ctx -= 1
            ctx_tokens += per_word[ctx]
        end, used = start, ctx_tokens
        while end < n and used + per_word[end] <= budget:
            used += per_word[end]
            end += 1
        if end == start:  # one word alone exceeds the budget
            ctx, end = start, start + 1
        yield ctx, start, end
        start = end


# ---------------------------------------------------------------- batching


def plan_batches(lengths: np.ndarray, batch_tokens: int) -> list[Batch]:
    """Pack pieces, longest first, into batches of at most ``batch_tokens`` padded tokens.

    The plan depends only on the lengths and the budget, so an interrupted run resumes with the
    same batches.
    """
    order = np.argsort(-lengths, kind="stable")
    batches: list[Batch] = []
    current: list[int] = []
    longest = 0
    for p in order:
        length = int(lengths[p])
        too_wide = max(longest, length) * (len(current) + 1) > batch_tokens
        if current and (too_wide or len(current) >= MAX_BATCH_SENTENCES):
            batches.append(Batch(len(batches), np.asarray(current)))
            current, longest = [], 0
        current.append(int(p))
        longest = max(longest, length)
    if current:
        batches.append(Batch(len(batches), np.asarray(current)))
    return batches


# ---------------------------------------------------------------- the forward loop


@dataclass
class _Forward:
    """What one model needs per batch: padded inputs and the keyword arguments it accepts."""

    model: LoadedModel
    aggregation: str
    pad_id: int = 0
    left: bool = False
    extra: dict = field(default_factory=dict)
    wants_positions: bool = False

    def __post_init__(self) -> None:
        tok = self.model.tokenizer
        pad = getattr(tok, "pad_token_id", None)
        if pad is None:
            pad = getattr(tok, "eos_token_id", None) or getattr(tok, "unk_token_id", None) or 0
        self.pad_id = int(pad)
        self.left = getattr(tok, "padding_side", "right") == "left"
        params = inspect.signature(self.model.model.forward).parameters
        self.extra = {k: False for k in ("use_cache", "use_mems") if k in params}
        self.wants_positions = self.left and "position_ids" in params

    def __call__(self, tok: TokenizedCorpus, pieces: np.ndarray) -> torch.Tensor:
        lengths = [len(tok.ids[p]) for p in pieces]
        width = max(lengths)
        ids = np.full((len(pieces), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(pieces), width), dtype=np.int64)
        offsets = np.zeros(len(pieces), dtype=np.int64)
        for b, (p, n) in enumerate(zip(pieces, lengths, strict=True)):
            off = width - n if self.left else 0
            ids[b, off : off + n] = tok.ids[p]
            mask[b, off : off + n] = 1
            offsets[b] = b * width + off
        dev = self.model.device
        kwargs = dict(self.extra)
        if self.wants_positions:
            kwargs["position_ids"] = torch.from_numpy(np.clip(mask.cumsum(1) - 1, 0, None)).to(dev)
        with torch.inference_mode():
            out = self.model.model(
                input_ids=torch.from_numpy(ids).to(dev),
                attention_mask=torch.from_numpy(mask).to(dev),
                output_hidden_states=True,
                return_dict=True,
                **kwargs,
            )
            return self._gather(out.hidden_states, tok, pieces, offsets)

    def _gather(
        self,
        hidden: Sequence[torch.Tensor],
        tok: TokenizedCorpus,
        pieces: np.ndarray,
        offsets: np.ndarray,
    ) -> torch.Tensor:
        if hidden is None or len(hidden) != self.model.n_layers:
            got = "none" if hidden is None else len(hidden)
            raise ModelError(
                f"{self.model.name!r} returned {got} hidden states, expected {self.model.n_layers}",
                hint="the model must support output_hidden_states",
            )
        dev = self.model.device
        size = self.model.hidden_size
        if self.aggregation in ("first", "last"):
            row = 0 if self.aggregation == "first" else 1
            flat = np.concatenate(
                [tok.select[p][row] + off for p, off in zip(pieces, offsets, strict=True)]
            )
            index = torch.from_numpy(flat).to(dev)
            return torch.stack([h.reshape(-1, size).index_select(0, index) for h in hidden])
        src, dst, base = [], [], 0
        for p, off in zip(pieces, offsets, strict=True):
            positions, kept = tok.members[p]
            src.append(positions + off)
            dst.append(kept + base)
            base += int(tok.n_keep[p])
        src_t = torch.from_numpy(np.concatenate(src)).to(dev)
        dst_t = torch.from_numpy(np.concatenate(dst)).to(dev)
        counts = torch.bincount(dst_t, minlength=base).clamp_(min=1).unsqueeze(1)
        out = []
        for h in hidden:
            tokens = h.reshape(-1, size).index_select(0, src_t).float()
            summed = torch.zeros(base, size, device=dev).index_add_(0, dst_t, tokens)
            out.append((summed / counts).to(h.dtype))
        return torch.stack(out)


def run_extraction(
    model: LoadedModel,
    tok: TokenizedCorpus,
    batches: Sequence[Batch],
    sink: Sink,
    *,
    aggregation: str = "last",
    done: set[int] | frozenset[int] = frozenset(),
    on_batch: Callable[[Batch], None] | None = None,
    callback: ProgressCallback | None = None,
    show_bar: bool | None = None,
) -> None:
    """Run every batch not in ``done`` through the model and write its word vectors to ``sink``.

    ``on_batch(batch)`` is called after each batch is written (the cache records progress there,
    which is what makes an interrupted run resumable).
    """
    forward = _Forward(model, aggregation)
    todo = [b for b in batches if b.index not in done]
    words_done = tok.n_words - sum(int(tok.n_keep[b.pieces].sum()) for b in todo)
    with Progress(
        f"extract {model.name}",
        tok.n_words,
        unit="word",
        callback=callback,
        initial=words_done,
        bar=show_bar,
    ) as bar:
        for batch in todo:
            values = forward(tok, batch.pieces).to(torch.float16).cpu().numpy()
            counts = tok.n_keep[batch.pieces]
            sink.write(tok.row_start[batch.pieces], counts, values)
            if on_batch is not None:
                on_batch(batch)
            bar.update(int(counts.sum()))


def extract_words(
    model: LoadedModel,
    sentences: Sequence[Sequence[str]],
    settings: ExtractionSettings | None = None,
) -> np.ndarray:
    """Word vectors of a few sentences in memory: float16 array ``(layers, words, hidden)``.

    For small inputs (a sentence typed in the dashboard, tests); corpora go through the cache.
    """
    settings = settings or ExtractionSettings()
    tok = tokenize_words(model.tokenizer, sentences, settings.window(model))
    sink = MemorySink(np.zeros((model.n_layers, tok.n_words, model.hidden_size), dtype=np.float16))
    batches = plan_batches(tok.lengths, settings.tokens_per_batch(model))
    run_extraction(model, tok, batches, sink, aggregation=settings.aggregation, show_bar=False)
    return sink.array
