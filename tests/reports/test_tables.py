"""The report's rows: numbers with intervals, fits in words, what did not converge."""

from __future__ import annotations

from dataclasses import replace

from fakes import fake_result

from neuronviz.reports.tables import fit_status, main_row, unconverged, with_ci
from neuronviz.store.result_parts import GridPoint


def test_with_ci_formats_a_number_and_its_interval_on_a_scale():
    assert with_ci(0.94871, (0.9461, 0.9513)) == "94.87 [94.61, 95.13]"
    assert with_ci(12.0, None, scale=1, digits=0) == "12"
    assert with_ci(None, (0, 1)) == ""


def test_fit_status_says_converged_only_under_the_tolerance():
    fit = fake_result().oracle
    assert fit_status(replace(fit, converged=True, kkt_max=9.8e-5, kkt_tol=1e-4)) == (
        "converged, KKT 9.8e-05 <= 1e-04"
    )
    assert fit_status(replace(fit, converged=False, kkt_max=3.2e-4)) == (
        "NOT converged, KKT 3.2e-04 > 1e-04"
    )
    assert fit_status(None) == "" and fit_status(replace(fit, converged=True)) == ""


def _point(converged: bool) -> GridPoint:
    return GridPoint(
        1e-3, 1e-3, 0.9, 0.5, 1e-4 if converged else 1e-3, 0.8, 10, converged=converged
    )


def test_unconverged_names_the_fits_that_missed_their_tolerance():
    r = fake_result()
    assert unconverged(r) == []
    bad = replace(
        r,
        oracle=replace(r.oracle, converged=False, kkt_max=2e-3, kkt_tol=1e-4),
        lambda_search=replace(r.lambda_search, points=[_point(False), _point(True)]),
    )
    assert unconverged(bad) == [
        "the oracle fit (KKT 2.0e-03 > 1e-04)",
        "1 of the lambda grid's fits",
    ]


def test_main_row_shows_the_minimal_set_with_its_interval():
    row = main_row(fake_result(size=20, n_layers=5, hidden=40))
    assert row["model"] == "m" and row["task"] == "pos"
    assert any("20" in str(v) for v in row.values())
