"""The package root: its public names, and that light commands do not load torch."""

from __future__ import annotations

import ast
import contextlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import neuronviz


def test_public_names_resolve_and_unknown_ones_fail():
    from neuronviz import MODELS, NeuronvizError, load_model
    from neuronviz.errors import NeuronvizError as direct

    assert NeuronvizError is direct and "minilm" in MODELS and callable(load_model)
    assert set(neuronviz.__all__) <= set(dir(neuronviz))
    for name in neuronviz.__all__:  # every public name resolves to where it lives now
        assert getattr(neuronviz, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        neuronviz.nothing  # noqa: B018


def test_the_cache_and_light_cli_commands_do_not_load_torch(tmp_path):
    script = textwrap.dedent(
        f"""
        import contextlib, io, sys
        import neuronviz.store.activation_cache
        from neuronviz.cli.main import main
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            main(["--help"])
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["cache", "list", "--cache-dir", {str(tmp_path)!r}]) == 0
        print(sorted(m for m in ("torch", "transformers") if m in sys.modules))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


PACKAGE = Path(neuronviz.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST, known: set[str]) -> set[str]:
    """The package's modules a syntax tree imports anywhere: at the top, inside functions and
    under ``TYPE_CHECKING`` alike (a lazy import does not make a cycle go away)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        found |= {n for n in names if n in known}
    return found


def import_graph() -> dict[str, set[str]]:
    """``module -> modules of the package it imports``, from the source."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: _imports(ast.parse(path.read_text(encoding="utf-8")), set(files)) - {name}
        for name, path in files.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_find_cycle_finds_a_cycle_and_only_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_package_has_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 40 and "neuronviz.probing.solvers" in graph["neuronviz.probing.retrain"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_every_module_of_the_package_is_imported_by_a_test():
    known = set(import_graph())
    tests = Path(__file__).parent
    imported: set[str] = set()
    for path in tests.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported |= _imports(tree, known)
        for node in ast.walk(tree):  # scripts a test runs in a fresh interpreter
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                with contextlib.suppress(SyntaxError):
                    imported |= _imports(ast.parse(textwrap.dedent(node.value)), known)
    parents = {m.rpartition(".")[0] for m in imported}  # importing a module imports its package
    untested = sorted(known - imported - parents - {"neuronviz.__main__"})
    assert not untested, f"modules no test imports: {', '.join(untested)}"


def _package_sources() -> list[Path]:
    return sorted((Path(__file__).parents[1] / "neuronviz").rglob("*.py"))


def test_no_module_is_over_500_lines():
    long = {str(p): n for p in _package_sources() if (n := len(p.read_text().splitlines())) > 500}
    assert not long, f"modules over 500 lines: {long}"


def test_a_function_over_80_lines_says_why():
    """A function longer than 80 lines (signature and docstring included) carries a comment
    saying why it is one function ("# Long on purpose: ..." or "# Over 80 lines ...")."""
    unexplained = []
    for path in _package_sources():
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if node.end_lineno - node.lineno + 1 <= 80:
                continue
            body = lines[node.lineno - 1 : node.end_lineno]
            if not any(
                line.strip().startswith(("# Long on purpose", "# Over 80 lines", "# One function"))
                for line in body
            ):
                unexplained.append(f"{path.name}:{node.lineno} {node.name}")
    assert not unexplained, f"functions over 80 lines without a comment saying why: {unexplained}"
