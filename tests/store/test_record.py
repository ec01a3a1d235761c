"""Typed records <-> JSON: a stored result reads back into typed parts and writes the same JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import numpy as np
import pytest
from fakes import fake_result, quality

from neuronviz.store.record import from_json, to_json
from neuronviz.store.result_checks import record_checksums
from neuronviz.store.result_parts import (
    ControlFit,
    OracleFit,
    QualityAtSize,
    RankingRecord,
    SolverRecord,
    Stability,
)
from neuronviz.store.result_store import ResultStore
from neuronviz.store.results import AnalysisResult


@dataclass(frozen=True)
class Inner:
    a: int
    b: float | None = None


@dataclass(frozen=True)
class Outer:
    name: str
    pair: tuple[float, float]
    items: list[Inner] = field(default_factory=list)
    by_id: dict[int, float] = field(default_factory=dict)
    maybe: Inner | None = None


def test_nested_records_round_trip_through_json_text():
    value = Outer("x", (1.0, 2.5), [Inner(1), Inner(2, 0.5)], {7: 0.25, 11: 1.0}, Inner(3))
    text = json.dumps(to_json(value))
    assert json.loads(text)["by_id"] == {"7": 0.25, "11": 1.0}  # JSON keys are strings ...
    back = from_json(Outer, json.loads(text))
    assert back == value and isinstance(back.pair, tuple)  # ... and come back as ints


def test_ints_stay_ints_where_a_float_is_allowed():
    back = from_json(Inner, {"a": 1, "b": 2})
    assert back.b == 2 and json.dumps(to_json(back)) == '{"a": 1, "b": 2}'


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ({"a": 1, "c": 2}, ValueError, r"Inner: unknown field\(s\) c"),
        ({"b": 1.0}, TypeError, "Inner: .*'a'"),
        ({"a": "1"}, TypeError, r"Inner\.a: expected int, got '1'"),
        ({"a": True}, TypeError, r"Inner\.a: expected int"),
        ({"a": 1, "b": "x"}, TypeError, r"Inner\.b: expected a number"),
        ([1, 2], TypeError, "Inner: expected an object"),
    ],
)
def test_a_record_of_another_shape_is_named_not_misread(data, error, message):
    with pytest.raises(error, match=message):
        from_json(Inner, data)


def test_a_nested_field_is_named_by_its_path():
    with pytest.raises(TypeError, match=r"Outer\.items\[1\]\.a: expected int"):
        from_json(Outer, {"name": "x", "pair": [1, 2], "items": [{"a": 1}, {"a": None}]})
    with pytest.raises(TypeError, match=r"Outer\.pair: expected 2 values, got 3"):
        from_json(Outer, {"name": "x", "pair": [1, 2, 3]})


def _full_result() -> AnalysisResult:
    """A fake result with every optional part filled, as a full analysis stores it."""
    r = fake_result()
    fit = SolverRecord(objective=0.5, kkt_max=5e-5, kkt_tol=1e-4, n_iter=9, converged=True)
    return replace(
        r,
        arrays={**r.arrays, **_required_arrays(r)},
        ranking_quality={"1": quality(0.9, [0.5, 0.6, 0.55], [0.3, 0.35], 0.01, 0.02, size=2)},
        ranking=replace(r.ranking, fit=fit),
        control=ControlFit(test_accuracy=0.4, selectivity=0.55, minimal_selectivity=0.5),
        stability=Stability(
            seeds=2,
            sizes=[20, 21],
            test_accuracies=[0.9, 0.91],
            size_mean=20.5,
            size_std=0.7,
            size_interval=[20.0, 21.0],
            jaccard=[0.9],
            jaccard_mean=0.9,
            membership={3: 1.0, 17: 0.5},
            fits=[fit, fit],
        ),
    )


def test_a_result_reads_back_into_the_same_typed_parts_and_json():
    r = _full_result()
    d = json.loads(json.dumps(r.to_dict()))
    back = AnalysisResult.from_dict(d, r.arrays)
    assert back == r
    assert isinstance(back.oracle, OracleFit) and isinstance(back.ranking, RankingRecord)
    assert isinstance(back.ranking_quality["1"], QualityAtSize)
    assert back.stability is not None and back.stability.membership == {3: 1.0, 17: 0.5}
    assert json.dumps(back.to_dict()) == json.dumps(d)  # byte for byte, key order included
    no_lasso = replace(r, ranking=replace(r.ranking, fit=None))
    assert no_lasso.to_dict()["ranking"]["fit"] == {}  # the format has always written {}
    assert AnalysisResult.from_dict(no_lasso.to_dict(), {}).ranking.fit is None


def test_the_summary_is_plain_json():
    s = _full_result().summary()
    json.dumps(s)  # nothing typed leaks into --json
    assert s["ranking_quality"]["1"]["beats_random"] is True
    assert s["ranking"]["fit"]["kkt_max"] == 5e-5 and s["control"]["converged"] is None


def test_a_stored_part_of_another_shape_is_reported_with_its_path(tmp_path):
    store = ResultStore(tmp_path)
    r = replace(_full_result(), key="k" * 64)
    folder = store.save(r)
    d = json.loads((folder / "result.json").read_text())
    d["minimal"]["size"] = "twenty"
    (folder / "result.json").write_text(json.dumps(d))
    record_checksums(folder)  # as a writer of another shape would have
    found = ResultStore.diagnose(folder)
    assert not isinstance(found, AnalysisResult)
    assert "minimal.size: expected int, got 'twenty'" in found.reason


def _required_arrays(r: AnalysisResult) -> dict[str, np.ndarray]:
    n = r.n_neurons
    return {
        "scores": np.zeros(n),
        "weights": np.zeros((len(r.classes), n), dtype=np.float32),
        "bias": np.zeros(len(r.classes), dtype=np.float32),
        "class_means": np.zeros((len(r.classes), n), dtype=np.float32),
    }
