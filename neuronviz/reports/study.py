"""The paper's study as settings: which models and tasks, how many training tokens each model gets, the lambda rule, and the command that reproduces it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from neuronviz.analyses.settings import AnalysisSettings
from neuronviz.errors import ConfigError

__all__ = ["PAPER_TASKS", "QUICK_SENTENCES", "ReproduceSettings"]


PAPER_TASKS = ("pos", "chunk", "sem", "ccg")


# Sentences a split in a --quick run: enough for every task's labels to show up, few enough
# that both default models (extraction included) finish within three minutes on two cores.
QUICK_SENTENCES = 150


@dataclass(frozen=True)
class ReproduceSettings:
    """The study to run. ``quick`` is a small smoke version (few sentences, small grid)."""

    models: tuple[str, ...] = ("minilm", "smollm2-135m")
    tasks: tuple[str, ...] = PAPER_TASKS
    token_cap: int | None = 150_000
    delta: float = 1.0
    seed: int = 0
    quick: bool = False
    paper: bool = False  # the paper's lambda rule: best dev accuracy, uniform class weighting
    # Per-model overrides of ``token_cap`` as (model, cap) pairs: a model too large to probe on
    # 150,000 words on the machine at hand gets a smaller cap, stated in the report.
    model_caps: tuple[tuple[str, int | None], ...] = ()

    def __post_init__(self) -> None:
        if not self.models or not self.tasks:
            raise ConfigError("reproduce needs at least one model and one task")
        for model, cap in (("", self.token_cap), *self.model_caps):
            if cap is not None and cap < 2:
                where = f" for {model}" if model else ""
                raise ConfigError(f"token cap{where} must be at least 2 (or 0 = all), got {cap}")
        unknown = sorted({m for m, _ in self.model_caps} - set(self.models))
        if unknown:
            raise ConfigError(
                f"token cap given for {', '.join(unknown)}, which is not among the models "
                f"({', '.join(self.models)}); check the spelling of --token-cap MODEL=N"
            )

    def cap_for(self, model: str) -> int | None:
        """Training-token cap of one model (its override, else the common cap)."""
        return dict(self.model_caps).get(model, self.token_cap)

    def caps_text(self) -> str:
        """The caps in words, for the report: '150000 (smollm2-135m: 30000)'."""
        common = str(self.token_cap or "all")
        overrides = [f"{m}: {c or 'all'}" for m, c in self.model_caps]
        return common + (f" ({'; '.join(overrides)})" if overrides else "")

    @property
    def max_sentences(self) -> int | None:
        return QUICK_SENTENCES if self.quick else None

    def analysis(self, model: str | None = None) -> AnalysisSettings:
        """The analysis settings of ``model``'s tasks (delta relative, as in the paper)."""
        common: dict = {
            "max_train_words": self.token_cap if model is None else self.cap_for(model),
            "delta": self.delta,
            "relative_delta": True,
            "seed": self.seed,
        }
        if self.paper:
            common |= {"rule": "accuracy", "weighting": "uniform"}
        if self.quick:
            return AnalysisSettings(
                lambdas=((1e-4, 1e-4), (1e-3, 1e-3)),
                grid_words=2000,
                percents=(1, 5, 10),  # the report's ranking-quality sizes
                random_draws=5,
                tie_draws=3,
                oracle_iter=300,
                retrain_iter=60,
                **common,
            )
        return AnalysisSettings(**common)

    def other(self) -> ReproduceSettings:
        """The same study with the other lambda rule (default <-> ``--paper``)."""
        return replace(self, paper=not self.paper)

    def rule_text(self) -> str:
        return (
            "the paper's rule: the pair with the best dev accuracy, every class weighted alike"
            if self.paper
            else "neuronviz's separation rule: of the pairs within 1.5 dev points of the best, the "
            "one whose top neurons separate best from random and bottom ones on dev, with the "
            "class weighting (uniform or by frequency) chosen the same way"
        )

    def command(self) -> str:
        parts = ["neuronviz reproduce", "--models", ",".join(self.models)]
        parts += ["--tasks", ",".join(self.tasks)]
        if self.token_cap != 150_000:
            parts += ["--token-cap", str(self.token_cap or 0)]
        for model, cap in self.model_caps:
            parts += ["--token-cap", f"{model}={cap or 0}"]
        if self.delta != 1.0:
            parts += ["--delta", f"{self.delta:g}"]
        if self.seed:
            parts += ["--seed", str(self.seed)]
        if self.quick:
            parts.append("--quick")
        if self.paper:
            parts.append("--paper")
        return " ".join(parts)
