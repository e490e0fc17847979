"""The protocol library stands alone: printers/bambu/ imports nothing of Django or the project."""

from __future__ import annotations

import ast
from pathlib import Path

LIBRARY = Path(__file__).resolve().parent.parent / "bambu"
PROJECT = ("j3d", "printers", "orders", "scheduling", "notifications", "django", "rest_framework")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_the_protocol_library_imports_only_itself_stdlib_and_third_party_packages():
    offending = {
        f"{path.name}: {name}"
        for path in LIBRARY.glob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in PROJECT and not name.startswith("printers.bambu")
    }
    assert not offending
