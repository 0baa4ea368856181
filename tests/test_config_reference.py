"""The configuration reference (docs/configuration.md) against the code that reads the environment.

The code's reads are found in its syntax tree: every `os.environ.get`, `os.getenv`,
`os.environ[...]` and `... in environ` with a literal name (or a module constant holding one),
every call of a function that passes its own parameter to one of those (`env_int`, say), and
every `${NAME}` in the Procfile. A read whose name cannot be told from the source fails the
test: the reference could not be checked against it.
"""

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "configuration.md"
#: What runs in production and the tools `make demo` and `make up` run: the code users configure.
SOURCES = (
    "celeryconfig.py",
    "flowerconfig.py",
    "kitchen",
    "restaurant",
    "waiter",
    "board",
    "tools",
)
#: Variables of the operating system, read by tools, that are nobody's setting.
SYSTEM = frozenset({"PATH", "HOME"})
#: Functions that read the environment by the name given as their first argument.
BUILTIN_READERS = frozenset({"getenv"})


@dataclass(frozen=True)
class Read:
    """One read of an environment variable in the code."""

    name: str
    where: str
    #: The default the code falls back to, when it is a literal in the call.
    default: object = None


def _python_files() -> Iterator[Path]:
    for source in SOURCES:
        path = ROOT / source
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(path.rglob("*.py"))


def _is_environ(node: ast.AST) -> bool:
    """`os.environ`, or a parameter named `environ` (a mapping given in its place)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ"
    return isinstance(node, ast.Name) and node.id == "environ"


def _constants(tree: ast.Module) -> dict[str, object]:
    """The module's top-level names bound to a literal (`VIA_CELERY = "WAITER_VIA_CELERY"`)."""
    found: dict[str, object] = {}
    for node in tree.body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and isinstance(value, ast.Constant):
            found[target.id] = value.value
    return found


class _Scanner(ast.NodeVisitor):
    """Collects the reads of one module, and the functions that read by their parameter."""

    def __init__(self, path: Path, tree: ast.Module, readers: frozenset[str]) -> None:
        self.path = path
        self.constants = _constants(tree)
        self.readers = readers
        self.reads: list[Read] = []
        self.unresolved: list[str] = []
        self.new_readers: set[str] = set()
        self.function: ast.FunctionDef | None = None

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        outer, self.function = self.function, node
        self.generic_visit(node)
        self.function = outer

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name_arg: ast.expr | None = None
        default: ast.expr | None = None
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "get"
            and _is_environ(func.value)
            and node.args
        ):
            name_arg = node.args[0]
            default = node.args[1] if len(node.args) > 1 else None
        else:
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called in self.readers and node.args:
                name_arg = node.args[0]
                default = node.args[1] if len(node.args) > 1 else None
                for keyword in node.keywords:
                    if keyword.arg == "default":
                        default = keyword.value
        if name_arg is not None:
            self._read(name_arg, default, node.lineno)
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if _is_environ(node.value) and isinstance(node.ctx, ast.Load):
            self._read(node.slice, None, node.lineno)
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn) and _is_environ(right):
                self._read(node.left, None, node.lineno)
        self.generic_visit(node)

    def _read(self, name: ast.expr, default: ast.expr | None, line: int) -> None:
        where = f"{self.path.relative_to(ROOT)}:{line}"
        value = self._literal(name)
        if isinstance(value, str):
            self.reads.append(Read(value, where, self._literal(default)))
            return
        parameters = {arg.arg for arg in self.function.args.args} if self.function else set()
        if isinstance(name, ast.Name) and name.id in parameters and self.function:
            # A helper that reads the variable its caller names: its calls are reads too.
            self.new_readers.add(self.function.name)
            return
        self.unresolved.append(f"{where}: {ast.unparse(name)}")

    def _literal(self, node: ast.expr | None) -> object:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.constants.get(node.id)
        return None


def code_reads() -> tuple[list[Read], list[str]]:
    """Every read of the environment in the sources, and the reads whose name is not literal."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in _python_files()}
    readers = BUILTIN_READERS
    while True:
        reads: list[Read] = []
        unresolved: list[str] = []
        found: set[str] = set()
        for path, tree in trees.items():
            scanner = _Scanner(path, tree, readers)
            scanner.visit(tree)
            reads += scanner.reads
            unresolved += scanner.unresolved
            found |= scanner.new_readers
        if found <= readers:
            break
        readers = readers | found
    procfile = (ROOT / "Procfile").read_text(encoding="utf-8")
    for match in re.finditer(r"\$\{?([A-Z][A-Z0-9_]*)(?::-([^}]*))?", procfile):
        reads.append(Read(match.group(1), "Procfile", match.group(2)))
    return [read for read in reads if read.name not in SYSTEM], unresolved


@dataclass(frozen=True)
class Entry:
    """One row of the reference: a variable and its documented default."""

    name: str
    default: str


def reference() -> dict[str, Entry]:
    """The variables the reference's tables name, with their default column."""
    entries: dict[str, Entry] = {}
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`([A-Z][A-Z0-9_]*)`", cells[0]) if line.startswith("|") else None
        if match and len(cells) >= 2:
            assert match.group(1) not in entries, f"{match.group(1)} is listed twice"
            entries[match.group(1)] = Entry(match.group(1), cells[1])
    return entries


def flower_option(name: str) -> bool:
    """Whether Flower itself reads `name` (FLOWER_ and one of its options, as it reads them)."""
    import flower.options  # noqa: F401  (defines Flower's options)
    from tornado.options import options

    return name.startswith("FLOWER_") and name.removeprefix("FLOWER_").lower() in options


def test_every_variable_the_code_reads_is_in_the_reference() -> None:
    reads, _ = code_reads()
    listed = reference()

    missing = sorted({f"{read.name} ({read.where})" for read in reads if read.name not in listed})

    assert not missing, f"read by the code but not in docs/configuration.md: {missing}"


def test_every_variable_in_the_reference_is_read_by_the_code_or_by_flower() -> None:
    read = {read.name for read in code_reads()[0]}

    stale = sorted(name for name in reference() if name not in read and not flower_option(name))

    assert not stale, f"in docs/configuration.md but read by nothing: {stale}"


def test_every_read_names_its_variable_literally() -> None:
    _, unresolved = code_reads()

    assert not unresolved, f"reads the reference cannot be checked against: {unresolved}"


def test_the_reference_gives_the_defaults_the_code_falls_back_to() -> None:
    listed = reference()
    wrong = []
    for read in code_reads()[0]:
        if read.default is None or read.default == "" or read.name not in listed:
            continue
        documented = listed[read.name].default.strip("`")
        if isinstance(read.default, bool):
            agrees = documented == str(read.default).lower()
        elif isinstance(read.default, int | float):
            agrees = _number(documented) == read.default
        else:
            agrees = documented == str(read.default)
        if not agrees:
            wrong.append(f"{read.name}: the code says {read.default!r}, the reference {documented}")

    assert not wrong, wrong


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def test_the_scan_finds_reads_of_every_kind() -> None:
    """The control: a read of each form the scan knows is found, so the checks above can fail."""
    reads = {read.name: read for read in code_reads()[0]}

    assert reads["REDIS_URL"].default == "redis://127.0.0.1:6379/0"  # env_str in celeryconfig
    assert reads["KITCHEN_LEASE_SECONDS"].default == 3.0  # env_float
    assert "CELERY_BROKER_URL" in reads  # os.environ.get in waiter/conf.py
    assert "WAITER_VIA_CELERY" in reads  # a module constant naming it
    assert "FLOWER_UNAUTHENTICATED_API" in reads  # `in environ`
    assert "FLOWER_PERSISTENT" in reads  # a helper of monitoring.py reading its parameter
    assert reads["FLOWER_PORT"].where == "Procfile"


@pytest.mark.parametrize(
    ("name", "expected"), [("FLOWER_BASIC_AUTH", True), ("FLOWER_NO_SUCH_THING", False)]
)
def test_flower_options_are_recognised(name: str, expected: bool) -> None:
    assert flower_option(name) is expected
