"""Load a spec with its imports and the standard library into one namespace."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from cnnc.diagnostics import CnncError, Diagnostic, Label, SourceCache, Span
from cnnc.limits import MAX_IMPORTS, path_problem, read_bounded
from cnnc.syntax import ast
from cnnc.syntax.parser import parse

STDLIB = Path(__file__).resolve().parent.parent / "stdlib"


@dataclass
class Program:
    """Everything a spec can see: its definitions, its imports', the stdlib's."""

    main: ast.Module
    blocks: dict[str, ast.Definition] = field(default_factory=dict)
    networks: dict[str, ast.Definition] = field(default_factory=dict)  # of the main file only
    consts: dict[str, ast.Const] = field(default_factory=dict)
    sources: SourceCache = field(default_factory=SourceCache)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def read_source(path: Path) -> str:
    """A spec's text (a leading byte-order mark is dropped); OSError and
    UnicodeDecodeError are the caller's to report.  Only a regular file is read, and no
    more of it than the size limit allows (`/dev/zero` and a FIFO are refused at once)."""
    return read_bounded(path).decode("utf-8-sig")


@functools.lru_cache(maxsize=64)
def _parse_cached(text: str, file: str) -> ast.Module:
    # The AST is never modified after parsing, so one parse of a file's text can
    # serve every analysis in the process (the stdlib is read by each of them).
    return parse(text, file)


def load(path: Path, text: str | None = None) -> Program:
    """Parse `path` (or `text` under that name), its imports and the stdlib."""
    name = str(path)
    text = read_source(path) if text is None else text
    program = Program(main=ast.Module(name))
    program.sources.add(name, text)
    try:
        program.main = parse(text, name)
    except CnncError as exc:
        program.diagnostics += exc.diagnostics
        return program
    seen: set[Path] = set()
    for std in sorted(STDLIB.glob("*.cnn")):
        _merge(program, _load_file(std, program, seen), shadowable=True)
    _merge_imports(program, program.main, path.resolve().parent, seen)
    _merge(program, program.main, shadowable=False)
    program.networks = {d.name: d for d in program.main.definitions if d.kind == "network"}
    return program


def _load_file(path: Path, program: Program, seen: set[Path]) -> ast.Module | None:
    seen.add(path)
    text = read_source(path)
    program.sources.add(str(path), text)
    try:
        return _parse_cached(text, str(path))
    except CnncError as exc:
        program.diagnostics += exc.diagnostics
        return None


def _merge_imports(program: Program, module: ast.Module, folder: Path, seen: set[Path]) -> None:
    for imp in module.imports:
        problem = path_problem(imp.path)
        if problem is not None:
            program.diagnostics.append(Diagnostic("error", "E0404", f"cannot import this path: {problem}", imp.span))
            continue
        target = (folder / imp.path).resolve()
        if target in seen:
            continue  # already loaded (or an import cycle): its definitions are in
        if len(seen) > MAX_IMPORTS:
            program.diagnostics.append(Diagnostic("error", "E0601", "too many imported files", imp.span))
            return
        try:
            imported = _load_file(target, program, seen)
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not readable as UTF-8 text"
            program.diagnostics.append(
                Diagnostic(
                    "error",
                    "E0404",
                    f"cannot import `{imp.path}`: {reason.lower()}",
                    imp.span,
                    notes=[f"looked for {target}"],
                )
            )
            continue
        if imported is not None:
            _merge_imports(program, imported, target.parent, seen)
            _merge(program, imported, shadowable=False)


def _merge(program: Program, module: ast.Module | None, shadowable: bool) -> None:
    if module is None:
        return
    std = str(STDLIB)
    for item in list(module.consts) + [d for d in module.definitions if d.kind == "block"]:
        table = program.consts if isinstance(item, ast.Const) else program.blocks
        previous = table.get(item.name)
        if previous is not None and not previous.span.file.startswith(std) and not shadowable:
            kind = "constant" if isinstance(item, ast.Const) else "block"
            program.diagnostics.append(
                Diagnostic(
                    "error",
                    "E0405",
                    f"{kind} `{item.name}` is defined twice",
                    _name_span(item),
                    labels=[Label(_name_span(previous), "first defined here")],
                )
            )
            continue
        table[item.name] = item


def _name_span(item: ast.Const | ast.Definition) -> Span:
    return item.name_span if isinstance(item, ast.Definition) else item.span
