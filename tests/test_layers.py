"""The layers of pointrend/ only point down, and no import cycle exists.

Every `import` of every module counts, those inside functions included: a function-level import
is still a dependency, only a later one. Imports under `if TYPE_CHECKING:` never run, so they
count for the direction of the layers but not for cycles. `__main__` modules are entry points
(`python -m pointrend.convert`): like the recipes, they sit on top of every layer.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pointrend"

# Lowest first: a layer may import itself and the layers before it.
LAYERS = ("config", "utils", "ops", "models", "data", "convert", "inference", "train", "app")
# Beyond the order: training and inference take plain values and ready parts, never a recipe.
FORBIDDEN = {"train": {"config"}, "inference": {"config"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def is_submodule(name: str, modules: dict[str, Path]) -> bool:
    """A Python module, or a compiled extension (`pointrend.ops._native`) if it is built."""
    if name in modules:
        return True
    package, _, leaf = name.rpartition(".")
    return package in modules and any(modules[package].parent.glob(f"{leaf}.*.so"))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, bool, int]]:
    """(imported pointrend module, runs at run time, line) for every import in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []

    def add(target: str, runtime: bool, line: int) -> None:
        while target and not is_submodule(target, modules):
            target = target.rpartition(".")[0]
        if target.startswith("pointrend"):
            found.append((target, runtime, line))

    def visit(node: ast.AST, runtime: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for statement in child.body:
                    visit_statement(statement, False)
                for statement in child.orelse:
                    visit_statement(statement, runtime)
            else:
                visit_statement(child, runtime)

    def visit_statement(node: ast.AST, runtime: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, runtime, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                add(submodule if is_submodule(submodule, modules) else base, runtime, node.lineno)
        else:
            visit(node, runtime)

    visit(ast.parse(path.read_text(), str(path)), True)
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_subpackage_has_a_place_in_the_layers():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(LAYERS)


def test_layers_only_import_downwards():
    modules = all_modules()
    upward = []
    for name, path in modules.items():
        layer = layer_of(name)
        if layer is None or name.endswith(".__main__"):
            continue  # the package facade (lazy `pointrend.load_checkpoint`) and entry points
        for target, _, line in sorted(set(imports_of(name, path, modules))):
            target_layer = layer_of(target)
            if target_layer is None:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
            elif LAYERS.index(target_layer) > LAYERS.index(layer) or target_layer in FORBIDDEN.get(
                layer, ()
            ):
                upward.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line} ({layer}) imports {target}"
                )
    assert not upward, "\n".join(upward)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state:
                cycle = walk(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = walk(node)
            if cycle:
                return cycle
    return None


def test_no_import_cycle():
    modules = all_modules()
    graph = {
        name: {target for target, runtime, _ in imports_of(name, path, modules) if runtime} - {name}
        for name, path in modules.items()
    }
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_the_walker_sees_function_level_and_relative_imports(tmp_path):
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    modules = all_modules()
    commands = imports_of("pointrend.app.commands", modules["pointrend.app.commands"], modules)
    # `evaluate` imports pointrend.inference.evaluate inside the function.
    assert ("pointrend.inference.evaluate", True) in {(t, r) for t, r, _ in commands}


@pytest.mark.subprocess
def test_importing_the_library_installs_no_warning_filter():
    # A fresh interpreter (this one has long imported pointrend); the third-party libraries the
    # data layer uses come first, since some of them install filters of their own.
    code = (
        "import warnings, numpy, cv2, albumentations; before = list(warnings.filters); import "
        "pointrend, pointrend.config.validate, pointrend.data, pointrend.utils.paddle_notices; "
        "assert warnings.filters == before, warnings.filters[: len(warnings.filters) - len(before)]"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
