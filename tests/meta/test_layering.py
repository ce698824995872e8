"""Dependencies point inward (STYLE.md): the domain does no I/O, and adapters never reach outwards."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "stackyard"

# Which of our packages each layer may import. `core` also may not import any third-party library.
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "runner": {"core", "runner", "logs"},
    "gitlab": {"core", "gitlab", "logs"},
    "storage": {"storage"},
    "services": {"core", "services", "storage", "gitlab", "runner", "logs", "bootstrap", "settings"},
}


def _imports(path: Path) -> set[str]:
    """Absolute module names imported by a file (at run time and under TYPE_CHECKING alike)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _files(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    wrong: list[str] = []
    for path in _files(layer):
        for module in _imports(path):
            top, _, rest = module.partition(".")
            if top == "stackyard":
                inner = rest.partition(".")[0]
                if inner not in ALLOWED[layer]:
                    wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
            elif layer == "core" and top not in sys.stdlib_module_names and top != "__future__":
                wrong.append(f"{path.relative_to(PACKAGE)} imports third-party {module}")
    assert wrong == []


def test_every_layer_is_checked_on_real_files() -> None:
    assert all(_files(layer) for layer in ALLOWED)
