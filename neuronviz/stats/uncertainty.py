"""How far to trust a number: bootstrap intervals over sentences and the tests behind verdicts.

Words of one sentence are not independent (one parse decides many of their tags), so intervals on
accuracies resample whole *sentences* (a percentile bootstrap): :class:`SentenceBootstrap` draws
the resamples once per split, and every probe's per-word correctness is then summed per sentence
and weighed by the same draws, so intervals of many probes cost one matrix product and
differences between two probes on the same words are *paired*.

The tests used by the verdicts:

- :func:`beats_draws`: is one value above a set of random draws (top-k against random-k)?
  A one-sided prediction test (Student t on the draws, ddof 1) and the empirical percentile;
- :func:`draws_differ`: are two sets of draws apart (random-k against bottom-k tie orders)?
  A one-sided Mann-Whitney U test (exact for these sizes: 20 draws against 3 tie orders that
  all lie below them give p = 1/1771), or the prediction test when one side is a single value;
- :func:`bootstrap_p`: from two bootstrap distributions, the share of resamples in which the
  claimed order fails (a one-sided bootstrap p-value).

Every test reports its p-value; the verdicts call a comparison significant at ``ALPHA`` = 0.05,
one comparison at a time (no correction for the number of comparisons: the report lists each).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from neuronviz.probing.features import ProbeData

__all__ = [
    "ALPHA",
    "LEVEL",
    "N_BOOT",
    "Bootstraps",
    "SentenceBootstrap",
    "beats_draws",
    "bootstrap_p",
    "draws_differ",
    "interval",
    "pack",
    "percentile_of",
    "sentence_lengths",
    "unpack",
]

log = logging.getLogger(__name__)

LEVEL = 0.95  # every interval is a 95% interval
ALPHA = 0.05  # a comparison is significant below this p-value
N_BOOT = 1000  # bootstrap resamples


def pack(correct: np.ndarray) -> np.ndarray:
    """Per-word correctness (bool) as packed bits, the form results and checkpoints keep."""
    return np.packbits(np.asarray(correct, dtype=bool))


def unpack(bits: np.ndarray, n: int) -> np.ndarray:
    """The inverse of :func:`pack` for ``n`` words."""
    return np.unpackbits(np.asarray(bits, dtype=np.uint8), count=n).astype(bool)


def interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The central ``level`` percentile interval of ``values`` (bootstrap draws)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return (float("nan"), float("nan"))
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def sentence_lengths(words: Sequence[Sequence[str]], n_words: int) -> np.ndarray:
    """Words per sentence of a split; every word its own sentence when they do not add up."""
    lengths = np.fromiter((len(s) for s in words), dtype=np.int64, count=len(words))
    if lengths.sum() != n_words:
        if len(words):
            log.warning(
                "sentence lengths add up to %d words, not %d: resampling single words",
                lengths.sum(),
                n_words,
            )
        return np.ones(n_words, dtype=np.int64)
    return lengths[lengths > 0]


@dataclass(frozen=True)
class SentenceBootstrap:
    """``n_boot`` resamples of a split's sentences, drawn once and shared by every probe.

    ``counts[b, s]`` is how often sentence ``s`` is drawn in resample ``b``.
    """

    lengths: np.ndarray  # (sentences,) words per sentence
    counts: np.ndarray  # (n_boot, sentences) float32

    @classmethod
    def build(cls, lengths: np.ndarray, n_boot: int = N_BOOT, seed: int = 0) -> SentenceBootstrap:
        lengths = np.asarray(lengths, dtype=np.int64)
        rng = np.random.default_rng([seed, len(lengths), 7])
        s = len(lengths)
        counts = (
            rng.multinomial(s, np.full(s, 1.0 / s), size=n_boot) if s else np.zeros((n_boot, 0))
        )
        return cls(lengths, counts.astype(np.float32))

    @property
    def n_words(self) -> int:
        return int(self.lengths.sum())

    def _per_sentence(self, correct: np.ndarray) -> np.ndarray:
        """Correct words per sentence, ``(..., sentences)`` for ``(..., words)``."""
        correct = np.asarray(correct, dtype=np.float32)
        if correct.shape[-1] != self.n_words:
            raise ValueError(f"{correct.shape[-1]} words given, the split has {self.n_words}")
        starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        return np.add.reduceat(correct, starts, axis=-1) if len(starts) else correct[..., :0]

    def accuracies(self, correct: np.ndarray) -> np.ndarray:
        """Resampled accuracies: ``(n_boot,)`` for one probe's ``(words,)`` correctness, or
        ``(n_boot, probes)`` for ``(probes, words)``."""
        sums = self._per_sentence(correct)
        words = self.counts @ self.lengths.astype(np.float32)
        out = (self.counts @ sums.T) if sums.ndim > 1 else self.counts @ sums
        return (out.T / np.maximum(words, 1)).T

    def interval(self, correct: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
        return interval(self.accuracies(correct), level)

    def difference(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Resampled ``accuracy(a) - accuracy(b)``, paired (the same sentences each time)."""
        return self.accuracies(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32))


def percentile_of(value: float, draws: Sequence[float] | np.ndarray) -> float:
    """Percent of ``draws`` below ``value`` (ties count half)."""
    d = np.asarray(draws, dtype=np.float64)
    if d.size == 0:
        return float("nan")
    return float(100 * ((d < value).sum() + 0.5 * (d == value).sum()) / d.size)


def _prediction_p(value: float, draws: np.ndarray) -> float:
    """One-sided p that a new draw would be at least ``value`` (Student t prediction test)."""
    n = draws.size
    sd = float(np.std(draws, ddof=1)) if n > 1 else 0.0
    gap = value - float(np.mean(draws))
    if n < 2:
        return float("nan")
    if sd == 0:
        return 0.0 if gap > 0 else 1.0
    t = gap / (sd * np.sqrt(1 + 1 / n))
    return float(stats.t.sf(t, df=n - 1))


def beats_draws(value: float, draws: Sequence[float]) -> dict:
    """Is ``value`` above what random ``draws`` give? Percentile and prediction-test p-value."""
    d = np.asarray(draws, dtype=np.float64)
    return {"percentile": percentile_of(value, d), "p": _prediction_p(value, d)}


def draws_differ(high: Sequence[float], low: Sequence[float]) -> float:
    """One-sided p that the draws ``high`` are not above the draws ``low``.

    A Mann-Whitney U test when both sides have several draws (no assumption on their spreads,
    which differ: random-k sometimes catches informative neurons, bottom-k never does); the
    prediction test when one side is a single value; NaN when neither has two draws.
    """
    a, b = np.asarray(high, dtype=np.float64), np.asarray(low, dtype=np.float64)
    if a.size > 1 and b.size > 1:
        with warnings.catch_warnings():  # ties make scipy fall back and warn; the p holds
            warnings.simplefilter("ignore", RuntimeWarning)
            return float(stats.mannwhitneyu(a, b, alternative="greater").pvalue)
    if b.size == 1 and a.size > 1:
        return 1.0 - _prediction_p(float(b[0]), a) if a.std() > 0 else float(a.mean() <= b[0])
    if a.size == 1 and b.size > 1:
        return _prediction_p(float(a[0]), b)
    return float("nan")


def bootstrap_p(smaller: np.ndarray, larger: np.ndarray, min_draws: int = 100) -> float:
    """One-sided bootstrap p-value of the claim ``smaller < larger``.

    The share of paired resamples in which ``smaller >= larger`` (ties count half); the two
    arrays are independent bootstrap draws of the two quantities, paired by index. Pairs with a
    missing (non-finite) value are dropped; with fewer than ``min_draws`` left there is no test
    (NaN), never a p-value of 0 from a single draw.
    """
    a, b = np.asarray(smaller, dtype=np.float64), np.asarray(larger, dtype=np.float64)
    n = min(a.size, b.size)
    a, b = a[:n], b[:n]
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if a.size < min_draws:
        return float("nan")
    return float(((a > b).sum() + 0.5 * (a == b).sum()) / a.size)


@dataclass(frozen=True)
class Bootstraps:
    """The dev and test sentence resamples every interval of one analysis shares."""

    dev: SentenceBootstrap
    test: SentenceBootstrap

    @classmethod
    def of(cls, data: ProbeData, n_boot: int, seed: int) -> Bootstraps:
        return cls(
            SentenceBootstrap.build(
                sentence_lengths(data.dev.words, len(data.dev.y)), n_boot, seed
            ),
            SentenceBootstrap.build(
                sentence_lengths(data.test.words, len(data.test.y)), n_boot, seed + 1
            ),
        )


def as_interval(values: tuple[float, float]) -> list[float]:
    return [float(values[0]), float(values[1])]
