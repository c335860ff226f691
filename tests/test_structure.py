"""The package's shape (docs/developer.md): no module imports a private name of another,
and the import graph has no cycle, counting imports inside functions too (a lazy import
hides a cycle from Python, not from a reader)."""

from __future__ import annotations

import ast

from conftest import REPO

PACKAGE = REPO / "clapdemo"


def module_name(path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def clapdemo_imports(path) -> list[tuple[str, list[str], int]]:
    """(imported module, imported names, line) for every `import clapdemo...` / `from clapdemo... import`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("clapdemo"):
            found.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("clapdemo")]
    return found


def modules() -> dict[str, object]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def test_no_module_imports_a_private_name_of_another():
    private = [
        f"{path.relative_to(REPO)}:{line} imports {name} from {module}"
        for module_, path in modules().items()
        for module, names, line in clapdemo_imports(path)
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert not private, "\n".join(private)


def test_the_import_graph_has_no_cycle():
    known = modules()
    graph = {}
    for name, path in known.items():
        targets = set()
        for module, names, _ in clapdemo_imports(path):
            for candidate in [f"{module}.{n}" for n in names] + [module]:
                if candidate in known and candidate != name:
                    targets.add(candidate)
                    break
        graph[name] = targets - {"clapdemo"}  # the package root re-exports; importing it is not a cycle
    cycles = []

    def visit(node, stack, done):
        if node in stack:
            cycles.append(" -> ".join(stack[stack.index(node):] + [node]))
            return
        if node in done:
            return
        for target in sorted(graph[node]):
            visit(target, stack + [node], done)
        done.add(node)

    done: set = set()
    for node in sorted(graph):
        visit(node, [], done)
    assert not cycles, "\n".join(cycles)


def test_the_developer_notes_list_every_module_once():
    """docs/developer.md's package tree (one line per module, issue 18) names every module under
    clapdemo/ and nothing that is gone: a module added or moved without its line fails here."""
    import re

    notes = (REPO / "docs" / "developer.md").read_text(encoding="utf-8")
    listed = re.findall(r"^([\w/]+\.py) ", notes, re.M)
    present = sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py"))
    assert sorted(listed) == present, (set(present) - set(listed), set(listed) - set(present))
