"""A contract type for import-linter (.importlinter) that its own types do not have:
`private_names`, no feature reaching into another feature's private names (`_name`).

import-linter's graph knows modules, not names, so this contract reads the source of every
module under the listed containers and reports `from app.x.y import _name` and
`y._name` (after `from app.x import y` or `import app.x.y as y`) where the name belongs to
another feature. A feature is a container's direct child: `app.scanning` for
`app.scanning.services`, `app.errors` for `app.errors`. Dunder names are not private."""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from importlinter import Contract, ContractCheck, fields, output


@dataclass(frozen=True)
class Reach:
    importer: str
    line: int
    owner: str
    name: str


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def feature_of(module: str, container: str) -> str:
    parts = module.split(".")
    depth = len(container.split("."))
    return ".".join(parts[:depth + 1])


def source_path(module: str, container: str) -> Path | None:
    """The file of `module` without importing anything (find_spec of a dotted name would
    run the packages' __init__ modules)."""
    root_name = container.split(".")[0]
    spec = importlib.util.find_spec(root_name)
    if spec is None or not spec.submodule_search_locations:
        return None
    base = Path(list(spec.submodule_search_locations)[0]).joinpath(*module.split(".")[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    keep = len(parts) - node.level + (1 if is_package else 0)
    base = ".".join(parts[:keep])
    return f"{base}.{node.module}" if node.module else base


def private_reaches(module: str, tree: ast.AST, is_package: bool, known: set[str],
                    container: str) -> list[Reach]:
    """The private names of other features that `module` imports or reads off a module."""
    own = feature_of(module, container)
    aliases: dict[str, str] = {}  # local name -> module it stands for
    found = []

    def foreign(owner: str) -> bool:
        return owner.startswith(container + ".") and feature_of(owner, container) != own

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = absolute(module, node, is_package)
            for alias in node.names:
                if f"{source}.{alias.name}" in known:
                    aliases[alias.asname or alias.name] = f"{source}.{alias.name}"
                elif is_private(alias.name) and foreign(source):
                    found.append(Reach(module, node.lineno, source, alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and is_private(node.attr)
                and foreign(aliases[node.value.id])):
            found.append(Reach(module, node.lineno, aliases[node.value.id], node.attr))
    return found


class PrivateNamesContract(Contract):
    """Configuration: `containers`, the packages whose direct children are features (e.g.
    `app`)."""

    type_name = "private_names"
    containers = fields.ListField(subfield=fields.StringField())
    broken_contract_guidance = fields.TextField(required=False)

    def check(self, graph, verbose: bool) -> ContractCheck:
        known = set(graph.modules)
        reaches: list[Reach] = []
        for container in self.containers:  # type: ignore[attr-defined]
            for module in sorted(known):
                if module != container and not module.startswith(container + "."):
                    continue
                path = source_path(module, container)
                if path is None:
                    continue
                output.verbose_print(verbose, f"Reading {module}...")
                tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
                reaches += private_reaches(module, tree, path.name == "__init__.py", known,
                                           container)
        return ContractCheck(kept=not reaches, metadata={"reaches": reaches})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for reach in check.metadata["reaches"]:
            output.print_error(f"{reach.importer}:{reach.line} uses {reach.owner}.{reach.name}, "
                               "a private name of another feature.")
        output.new_line()
