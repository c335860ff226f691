"""Layers point one way (issue 13): the store loads itself, the folder index is a client of the
store, and memory-mapping is an option beside the in-RAM loader."""

from __future__ import annotations

from test_structure import PACKAGE, clapdemo_imports


def imported_modules(module: str) -> set[str]:
    return {name for name, _, _ in clapdemo_imports(PACKAGE.joinpath(*module.split(".")).with_suffix(".py"))}


def test_runs_loads_embeddings_without_the_folder_index():
    assert "clapdemo.search.folder_index" not in imported_modules("training.runs")
    assert "clapdemo.search.folder_index" not in imported_modules("training.plan")


def test_the_in_ram_loader_lives_with_the_store_and_packing_builds_on_it():
    import ast
    import inspect

    from clapdemo.stores import packed

    from clapdemo.stores import store

    assert inspect.getmodule(store.open_store) is store and "def open_store" not in inspect.getsource(packed)
    top_level = {n.module for n in ast.parse(inspect.getsource(store)).body if isinstance(n, ast.ImportFrom)}
    assert "clapdemo.stores.packed" not in top_level  # only open_store(memmap=True) reaches for packing
    assert "clapdemo.search.folder_index" not in imported_modules("stores.store")
    assert "clapdemo.stores.store" in imported_modules("search.folder_index")  # the folder index is a client of the store
