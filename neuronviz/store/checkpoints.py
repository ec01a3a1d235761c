"""Checkpoints of a running analysis, so a killed ``neuronviz probe`` continues where it stopped.

A complete analysis of a large model x task takes hours (smollm2-135m x ccg: the lambda search,
the oracle fit and hundreds of retrained probes with 294 classes). Its expensive pieces are
written as they finish into ``<results>/<model>/<task>-<method>-<key>.partial/``, keyed like the
result itself (inputs and settings), so a run with the same inputs and settings picks them up:

- ``search.json`` + ``search.npz``: the regularisation search and the chosen pair's grid fit;
- ``oracle.json`` + ``oracle.npz``, ``control.json`` + ``control.npz``: the all-neuron fits;
- ``retrained.jsonl``: one line per retrained probe (which neurons, which labels, dev and test
  accuracy, per-word correctness as base64 packed bits, convergence), appended as each
  finishes, so a run killed mid-stage loses at most one probe.

Arrays are ``.npz`` read with ``allow_pickle=False``; every record carries the result key, and
a file that does not parse (a write cut by the kill) is ignored and recomputed. The folder is
removed once the result is saved.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from neuronviz.analyses.lambdas import LambdaSearch
from neuronviz.probing.objective import FitResult
from neuronviz.probing.retrain import Retrained, columns_digest
from neuronviz.store.files import atomic_write_json, file_digest, slug
from neuronviz.store.result_parts import GridPoint

__all__ = ["Checkpoint"]

log = logging.getLogger(__name__)


def _fit_result(meta: dict, weights: np.ndarray, bias: np.ndarray, device) -> FitResult:
    return FitResult(
        torch.as_tensor(weights).to(device),
        torch.as_tensor(bias).to(device),
        float(meta["objective"]),
        float(meta["kkt_max"]),
        int(meta["n_iter"]),
        bool(meta["converged"]),
        str(meta["solver"]),
        float(meta["kkt_tol"]),
    )


def _line_digest(line: dict) -> str:
    return hashlib.sha256(json.dumps(line, sort_keys=True).encode()).hexdigest()


def _bits(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text, validate=True), dtype=np.uint8).copy()


class Checkpoint:
    """The finished pieces of one analysis (see the module docstring)."""

    def __init__(self, folder: Path, key: str) -> None:
        self.folder = Path(folder)
        self.key = key
        self._journal = self.folder / "retrained.jsonl"

    @classmethod
    def for_result(cls, results: Path, model: str, task: str, method: str, key: str) -> Checkpoint:
        """The checkpoint beside where ``ResultStore`` will save this result."""
        return cls(results / slug(model) / f"{slug(task)}-{method}-{key[:12]}.partial", key)

    def exists(self) -> bool:
        return self.folder.is_dir()

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    # ---------------------------------------------------------------- fits and the search

    def save_fit(self, name: str, fit: FitResult) -> None:
        arrays = {"weights": fit.weights.cpu().numpy(), "bias": fit.bias.cpu().numpy()}
        self._save(name, fit.record(), arrays)

    def load_fit(self, name: str, device: torch.device | str = "cpu") -> FitResult | None:
        found = self._load(name)
        if found is None:
            return None
        meta, arrays = found
        return _fit_result(meta, arrays["weights"], arrays["bias"], device)

    def save_search(self, search: LambdaSearch, grid_fit: FitResult) -> None:
        meta = {
            "points": [asdict(p) for p in search.points],
            "rule": search.rule,
            "tolerance": search.tolerance,
            "chosen": list(search.chosen),
            "grid_words": search.grid_words,
            "weighting": search.weighting,
            "pair_orders": list(search.pair_orders),  # in the arrays' order below
            "grid_fit": grid_fit.record(),
        }
        arrays = {f"order_{i}": v for i, v in enumerate(search.pair_orders.values())}
        arrays["grid_weights"] = grid_fit.weights.cpu().numpy()
        arrays["grid_bias"] = grid_fit.bias.cpu().numpy()
        self._save("search", meta, arrays)

    def load_search(
        self, device: torch.device | str = "cpu"
    ) -> tuple[LambdaSearch, FitResult] | None:
        found = self._load("search")
        if found is None:
            return None
        meta, arrays = found
        orders = {name: arrays[f"order_{i}"] for i, name in enumerate(meta["pair_orders"])}
        search = LambdaSearch(
            points=[GridPoint(**p) for p in meta["points"]],
            rule=meta["rule"],
            tolerance=meta["tolerance"],
            chosen=(float(meta["chosen"][0]), float(meta["chosen"][1])),
            grid_words=int(meta["grid_words"]),
            weighting=meta["weighting"],
            pair_orders=orders,
        )
        fit = _fit_result(meta["grid_fit"], arrays["grid_weights"], arrays["grid_bias"], device)
        return search, fit

    # ---------------------------------------------------------------- retrained probes

    def record_retrained(self, control: bool, columns: np.ndarray, result: Retrained) -> None:
        """Append one retrained probe's accuracies, per-word correctness and convergence."""
        self.folder.mkdir(parents=True, exist_ok=True)
        line = {
            "key": self.key,
            "control": bool(control),
            "columns": columns_digest(columns),
            "size": int(result.size),
            "dev": float(result.dev),
            "test": float(result.test),
            "dev_bits": base64.b64encode(result.dev_bits.tobytes()).decode("ascii"),
            "test_bits": base64.b64encode(result.test_bits.tobytes()).decode("ascii"),
            "grad_max": float(result.grad_max),
            "converged": bool(result.converged),
        }
        line["digest"] = _line_digest(line)
        with self._journal.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
            fh.flush()

    def retrained(self) -> dict[tuple[bool, str], Retrained]:
        """``(control, columns digest) -> Retrained`` of every recorded probe."""
        out: dict[tuple[bool, str], Retrained] = {}
        if not self._journal.is_file():
            return out
        for line in self._journal.read_text(encoding="utf-8").splitlines():
            try:
                d = json.loads(line)
                if d["key"] != self.key:
                    continue
                recorded = d.pop("digest", None)  # None: written before checksums
                if recorded is not None and recorded != _line_digest(d):
                    log.warning(
                        "a retrained probe in %s was altered; it is retrained", self._journal
                    )
                    continue
                out[(bool(d["control"]), str(d["columns"]))] = Retrained(
                    int(d["size"]),
                    float(d["dev"]),
                    float(d["test"]),
                    _bits(d["dev_bits"]),
                    _bits(d["test_bits"]),
                    float(d["grad_max"]),
                    bool(d["converged"]),
                )
            except (ValueError, KeyError, TypeError, binascii.Error):
                continue  # a line cut short by the kill
        return out

    # ---------------------------------------------------------------- files

    def _save(self, name: str, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{name}.tmp.npz"
        np.savez(tmp, **arrays)  # type: ignore[arg-type]  # numpy's stub reads **arrays as flags
        tmp.replace(self.folder / f"{name}.npz")
        # the JSON goes last: a piece counts as done only when both files are there
        digest = file_digest(self.folder / f"{name}.npz")
        atomic_write_json(
            self.folder / f"{name}.json", {"key": self.key, **meta, "arrays_sha256": digest}
        )

    def _load(self, name: str) -> tuple[dict, dict[str, np.ndarray]] | None:
        meta_path, array_path = self.folder / f"{name}.json", self.folder / f"{name}.npz"
        if not (meta_path.is_file() and array_path.is_file()):
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            with np.load(array_path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            log.warning(
                "checkpoint %s in %s is unreadable (%s); recomputing", name, self.folder, exc
            )
            return None
        if meta.get("key") != self.key:
            return None
        recorded = meta.pop("arrays_sha256", None)  # None: written before checksums
        if recorded is not None and file_digest(array_path) != recorded:
            log.warning(
                "checkpoint %s in %s does not match its checksum; recomputing", name, self.folder
            )
            return None
        return meta, arrays
