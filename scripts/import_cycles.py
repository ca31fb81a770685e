"""Fail on import circles: modules that import each other, directly or through
others, in the Rust core (`crate::`, `super::` and child-module paths in src/)
and in the Python package (python/kafkify, imports that run: not those under
`if TYPE_CHECKING:`). Part of the lint step of scripts/test.sh.

A circle through a module listed in ``KNOWN`` (none today) is printed as known and
does not fail the check; every other circle does.

Usage: python scripts/import_cycles.py [repo root]
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

# Modules a circle may go through while a split is under way (printed as known,
# not failing); none since issue 11.
KNOWN: tuple[str, ...] = ()


def is_known(module: str) -> bool:
    return any(module == k or module.startswith((k + ".", k + "::")) for k in KNOWN)


# ------------------------------------------------------------------ Rust


def rust_module(src: Path, path: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib"):
        parts.pop()
    return "::".join(parts) or "crate"


COMMENT = re.compile(r"//[^\n]*")
TESTS = re.compile(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*mod tests\b")
USE = re.compile(r"\buse\s+([^;]+);")
PATH = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def expand_use(tree: str) -> list[str]:
    """`a::{b, c::{d, e}}` → ["a::b", "a::c::d", "a::c::e"] (roughly: enough for
    deciding which module a path names)."""
    tree = re.sub(r"\s+", "", tree)
    tree = re.sub(r"\bas\w+", "", tree.replace(" as ", "as"))
    if "{" not in tree:
        return [tree]
    head, _, rest = tree.partition("{")
    inner = rest[: rest.rfind("}")]
    items, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(inner[start:i])
            start = i + 1
    items.append(inner[start:])
    out = []
    for item in filter(None, items):
        for sub in expand_use(item):
            out.append(head + sub if sub != "self" else head.rstrip(":"))
    return out


def rust_graph(root: Path) -> dict[str, set[str]]:
    src = root / "src"
    files = {rust_module(src, p): p for p in sorted(src.rglob("*.rs"))}
    modules = set(files)

    def resolve(segments: list[str]) -> str | None:
        for n in range(len(segments), 0, -1):
            name = "::".join(segments[:n])
            if name in modules:
                return name
        return None

    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in files.items():
        text = path.read_text()
        tests = TESTS.search(text)
        if tests:
            text = text[: tests.start()]
        text = COMMENT.sub("", text)
        here = [] if module == "crate" else module.split("::")
        paths = [p for u in USE.findall(text) for p in expand_use(u)]
        paths += [m.group(0) for m in PATH.finditer(text)]
        for p in paths:
            segments = [s for s in p.split("::") if s]
            if not segments:
                continue
            if segments[0] == "crate":
                target = resolve(segments[1:])
            elif segments[0] == "super":
                base = here[:]
                while segments and segments[0] == "super":
                    base = base[:-1]
                    segments = segments[1:]
                target = resolve(base + segments) or ("::".join(base) or "crate")
            elif segments[0] == "self":
                target = resolve(here + segments[1:])
            elif "::".join(here + segments[:1]) in modules:
                target = resolve(here + segments)  # a child module
            else:
                continue  # another crate, or std
            if target and target != module and target != "crate":
                graph[module].add(target)
    return graph


# ---------------------------------------------------------------- Python


def python_module(pkg_root: Path, path: Path) -> str:
    parts = list(path.relative_to(pkg_root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


class Imports(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool) -> None:
        self.module, self.is_package, self.names = module, is_package, []

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
        if name == "TYPE_CHECKING":
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.names += [a.name for a in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            package = self.module.split(".")
            if not self.is_package:
                package = package[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join(package + ([base] if base else []))
        self.names += [f"{base}.{a.name}" for a in node.names] + [base]


def python_graph(root: Path) -> dict[str, set[str]]:
    pkg_root = root / "python"
    files = {python_module(pkg_root, p): p for p in sorted((pkg_root / "kafkify").rglob("*.py"))}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        visitor = Imports(module, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(), str(path)))
        for name in visitor.names:
            # `from kafkify import testing` names the submodule; `from kafkify
            # import Producer` the package; a package's own submodules are not
            # counted against it (importing one runs its __init__ first anyway).
            if name in files and name != module and not module.startswith(name + "."):
                graph[module].add(name)
    return graph


# ---------------------------------------------------------------- circles


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def one_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest path from the component's first module back to itself."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                return paths[v] + [start]
            if w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    return component


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    failed = False
    for language, graph, sep in (
        ("Rust (src/)", rust_graph(root), " → "),
        ("Python (python/kafkify)", python_graph(root), " → "),
    ):
        found = circles(graph)
        for component in found:
            path = sep.join(one_cycle(graph, component))
            if any(is_known(m) for m in component):
                print(f"{language}: known, issue 11 (lead): {path}  [{', '.join(component)}]")
            else:
                print(f"{language}: import circle: {path}  [{', '.join(component)}]")
                failed = True
        print(f"{language}: {len(graph)} modules, {len(found)} circle(s)")
    if failed:
        print("FAIL: modules import each other (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
