"""The packages are the layers (see provider/__init__.py): the bridge knows no domain, imports
point one way, and no two modules import each other, however indirectly.

Read from the sources with ``ast``, so a cycle is found even where the order of imports
happens to hide it at run time. Imports inside functions (deferred for start-up speed) and
under ``TYPE_CHECKING`` run late or never, so only module-level imports count as edges.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PROVIDER = Path(__file__).resolve().parent.parent / "provider"
DOMAIN_WORDS = re.compile(r"photon|tenant|quota|cluster|esxi", re.IGNORECASE)
# Which top-level packages each may import (anything, function-local imports included).
ALLOWED = {
    "bridge": {"bridge"},
    "esxi": {"esxi"},
    "photon": {"photon", "bridge", "esxi"},
    "heal": {"heal", "photon", "esxi", "bridge"},
}
OWNED = {"pyVmomi": "esxi", "pyVim": "esxi", "grpc": "bridge"}  # libraries one layer keeps


def _modules() -> dict[str, Path]:
    """Dotted name -> file, for every hand-written module under provider/."""
    found = {}
    for path in sorted(PROVIDER.rglob("*.py")):
        parts = path.relative_to(PROVIDER.parent).with_suffix("").parts
        if "_generated" not in parts:
            found[".".join(parts).removesuffix(".__init__")] = path
    return found


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The dotted names an import statement brings in (a name may be a submodule)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        anchor = package[: len(package) - node.level + 1]
        base = ".".join(anchor + ([node.module] if node.module else []))
    yield base
    yield from (f"{base}.{alias.name}" for alias in node.names)


def _module_level_edges() -> dict[str, set[str]]:
    modules = _modules()
    edges: dict[str, set[str]] = {}
    for module, path in modules.items():
        body = ast.parse(path.read_text()).body
        imports = (n for n in body if isinstance(n, ast.Import | ast.ImportFrom))
        targets = {t for node in imports for t in _imported(module, path, node)}
        edges[module] = {t for t in targets if t in modules and t != module}
    return edges


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None (depth-first search)."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" after
    trail: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        trail.append(module)
        for target in sorted(edges[module]):
            if state.get(target) == "open":
                return [*trail[trail.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        state[module] = "done"
        trail.pop()
        return None

    for module in sorted(edges):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_among_the_providers_modules() -> None:
    edges = _module_level_edges()
    assert "provider.photon.platform" in edges["provider.photon.tenant"]  # the graph is read
    assert _cycle(edges) is None


def _breaks_layering(layer: str, target: str) -> bool:
    used = target.split(".")
    if used[0] == "provider":
        return len(used) > 1 and used[1] in ALLOWED and used[1] not in ALLOWED[layer]
    return OWNED.get(used[0], layer) != layer


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for module, path in _modules().items():
        layer = module.split(".")[1] if module.count(".") else ""
        if layer in ALLOWED:
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    targets = _imported(module, path, node)
                    wrong += [f"{module}: {t}" for t in targets if _breaks_layering(layer, t)]
    assert wrong == []


def test_the_bridge_names_no_domain() -> None:
    """It could be published on its own: the provider's name is handed to it."""
    named = [
        f"{path.relative_to(PROVIDER.parent)}:{number}: {line.strip()}"
        for path in sorted((PROVIDER / "bridge").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if DOMAIN_WORDS.search(line)
    ]
    assert named == []
