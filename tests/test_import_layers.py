"""The package's import structure: leaf contracts, no cycles, Triton kernels independent of ops.

Read from the source (every import statement, also those inside functions), so a lazy import
that would close a cycle is caught as well.
"""

import ast
import pathlib

import cnnfast

ROOT = pathlib.Path(cnnfast.__file__).parent


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph():
    """{module: set of cnnfast modules it imports}; `from pkg import name` counts as importing
    pkg.name when that is a module, else pkg."""
    paths = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        is_package = path.name == "__init__.py"
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("cnnfast"))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = name.split(".") if is_package else name.split(".")[:-1]
                    pkg = pkg[:len(pkg) - node.level + 1]
                    base = ".".join(pkg + ([base] if base else []))
                if not base.startswith("cnnfast"):
                    continue
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    deps.add(sub if sub in paths else base)
        graph[name] = {d for d in deps if d in paths and d != name}
    return graph


def _cycle(graph):
    """One import cycle as a list of modules, or None. A package's __init__ importing its own
    modules is how a package exposes them, so edges from a package to its children are left out."""
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if d.startswith(m + "."):
                continue
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        state[m] = 2
        stack.pop()
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_no_import_cycle():
    assert _cycle(_import_graph()) is None


def test_cycle_finder_finds_one():
    # the check above must be able to fail
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_contracts_are_leaves():
    graph = _import_graph()
    for m, deps in graph.items():
        if m.startswith("cnnfast.contracts"):
            assert all(d.startswith("cnnfast.contracts") for d in deps), (m, deps)


def test_triton_kernels_do_not_import_ops():
    graph = _import_graph()
    for m, deps in graph.items():
        if m.startswith("cnnfast.triton"):
            bad = {d for d in deps if d.startswith(("cnnfast.ops", "cnnfast.nn", "cnnfast.passes"))}
            assert not bad, (m, bad)
