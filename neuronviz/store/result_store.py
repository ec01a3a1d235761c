"""Where analysis results are kept: one folder per model x task x settings key, written atomically with checksums, read back only when intact; unreadable ones are listed with the reason."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuronviz.store.files import atomic_write_json, slug
from neuronviz.store.result_checks import consistency_problem, record_checksums, result_problem
from neuronviz.store.results import RESULT_VERSION, AnalysisResult, preferred

__all__ = ["ResultStore", "UnreadResult", "audit_results"]

log = logging.getLogger(__name__)


class ResultStore:
    """Results on disk under ``<root>/results``."""

    def __init__(self, root: str | Path) -> None:
        self.base = Path(root) / "results"

    @staticmethod
    def key(entries: dict, task: str, settings, *, preview: bool = False) -> str:
        fields = {
            "version": RESULT_VERSION,
            "task": task,
            "entries": {s: e.manifest.key.digest for s, e in sorted(entries.items())},
            "settings": settings.to_dict(),
        }
        if preview:  # keys of full analyses stay what they were before previews existed
            fields["preview"] = True
        text = json.dumps(fields, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def folder(self, model: str, task: str, method: str, key: str) -> Path:
        return self.base / slug(model) / f"{slug(task)}-{method}-{key[:12]}"

    def save(self, result: AnalysisResult) -> Path:
        """Write ``result`` atomically (temporary folder + rename)."""
        final = self.folder(result.model, result.task, result.method, result.key)
        final.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        try:
            arrays = {k: np.asarray(v) for k, v in result.arrays.items()}
            np.savez(work / "arrays.npz", **arrays)  # type: ignore[arg-type]  # numpy's stub reads **arrays as flags
            atomic_write_json(work / "result.json", result.to_dict())
            record_checksums(work)
            shutil.rmtree(final, ignore_errors=True)
            work.rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return final

    def load(self, model: str, key: str) -> AnalysisResult | None:
        """The stored result with this key, or None."""
        for folder in (self.base / slug(model)).glob(f"*-{key[:12]}"):
            return self.read(folder)
        return None

    @staticmethod
    def read(folder: Path) -> AnalysisResult | None:
        """The result in ``folder``, or None (logged) when it is unreadable, damaged or of
        another format version (the version is read first: another version may keep its
        files differently)."""
        found = ResultStore.diagnose(folder)
        if isinstance(found, UnreadResult):
            log.warning("result in %s %s", folder, found.reason)
            return None
        return found

    @staticmethod
    def diagnose(folder: Path) -> AnalysisResult | UnreadResult:
        """The result in ``folder``, or what keeps it from being read and what to do."""
        if not folder.is_dir():
            return UnreadResult(folder, "a stray file where result folders are kept")
        try:
            d = json.loads((folder / "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return UnreadResult(folder, f"unreadable: {exc}")
        if not isinstance(d, dict):
            return UnreadResult(folder, "result.json does not hold a result")
        version = d.get("version")
        if version != RESULT_VERSION:
            newer = isinstance(version, int) and version > RESULT_VERSION
            return UnreadResult(
                folder,
                f"has format version {version}, this neuronviz reads version {RESULT_VERSION}: "
                + (
                    "it was written by a newer neuronviz; upgrade to read it (it is left as it is)"
                    if newer
                    else "it was written by an older neuronviz and is not read; run the analysis "
                    "again (the old folder can be removed with `neuronviz cache remove`)"
                ),
                damaged=False,
            )
        problem = result_problem(folder)
        if problem:
            return UnreadResult(folder, problem)
        try:
            with np.load(folder / "arrays.npz", allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError) as exc:
            return UnreadResult(folder, f"unreadable: {exc}")
        try:
            result = AnalysisResult.from_dict(d, arrays)
            problem = consistency_problem(result)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            problem = f"unreadable: {exc!r}"
        if problem:
            return UnreadResult(folder, problem)
        return result

    def latest(self, model: str, task: str) -> AnalysisResult | None:
        """The result of ``model`` x ``task`` to show: see :func:`preferred`."""
        return preferred([r for r in self.all(model) if r.task == task])

    def all(self, model: str | None = None) -> list[AnalysisResult]:
        return self.scan(model)[0]

    def scan(self, model: str | None = None) -> tuple[list[AnalysisResult], list[UnreadResult]]:
        """Every stored result, and every result folder that could not be read (with why)."""
        found, unread = [], []
        for folder in self.folders(model):
            got = self.diagnose(folder)
            if isinstance(got, UnreadResult):
                log.warning("result in %s %s", folder, got.reason)
                unread.append(got)
            else:
                found.append(got)
        return found, unread

    def signature(self) -> tuple:
        """Changes whenever a result is added, replaced or removed (cheap: the result files'
        names, sizes and mtimes), so a view can cache what it read until then."""
        if not self.base.is_dir():
            return ()
        return tuple(
            sorted(
                (str(p), p.stat().st_mtime_ns, p.stat().st_size)
                for name in ("result.json", "arrays.npz", "checksums.json")
                for p in self.base.glob(f"*/*/{name}")
            )
        )

    def partials(self) -> list[Path]:
        """Checkpoints of interrupted analyses (the next identical run continues them)."""
        return sorted(self.base.glob("*/*.partial")) if self.base.is_dir() else []

    def folders(self, model: str | None = None) -> list[Path]:
        """Every result folder (of ``model``), and stray files among them, as paths to check;
        not folders being written (``.name``) or an analysis' checkpoints (``.partial``)."""
        if not self.base.is_dir():
            return []
        models = [self.base / slug(model)] if model else sorted(self.base.iterdir())
        out = []
        for folder in models:
            if folder.name.startswith("."):
                continue
            if not folder.is_dir():
                out += [folder] if folder.exists() else []
                continue
            out += [
                p
                for p in sorted(folder.iterdir())
                if not (p.name.startswith(".") or p.name.endswith(".partial"))
            ]
        return out


@dataclass(frozen=True)
class UnreadResult:
    """A result folder that could not be read: where, why, and whether it is damaged (as
    opposed to written by another version of neuronviz)."""

    folder: Path
    problem: str  # what is wrong, as `cache verify` lists it
    damaged: bool = True

    @property
    def reason(self) -> str:
        """The problem as the rest of a sentence starting "result in FOLDER"."""
        return (
            f"is damaged ({self.problem}); it will be recomputed" if self.damaged else self.problem
        )

    @property
    def name(self) -> str:
        """``model/folder``, as `neuronviz cache verify` names it."""
        return f"{self.folder.parent.name}/{self.folder.name}"


def audit_results(root: str | Path) -> list[tuple[Path, list[str]]]:
    """Every stored result under ``root`` with what is wrong with it (``cache verify``)."""
    found = []
    for folder in ResultStore(root).folders():
        got = ResultStore.diagnose(folder)
        if isinstance(got, UnreadResult):
            found.append((folder, [got.problem]))
            continue
        try:
            got.neuron_ranking()
            found.append((folder, []))
        except Exception as exc:  # any failure to read it is the finding
            found.append((folder, [f"unreadable: {exc!r}"]))
    return found
