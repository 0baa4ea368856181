"""Terminal transcripts in Markdown (```console blocks) and matching real output against them.

A transcript shows `$ command` lines, each followed by the output it printed. What changes from
run to run is matched by its shape, not its value: clock times, durations and percentages, URLs,
process ids, host names after `@`. Order ids are bound: the first id an output prints stands for
the id the transcript shows there, and every later mention of that id, in a command or an
output, must be the same one. A line `...` stands for any number of lines, and `...` within a
line for any text; a transcript without `...` lines must match line for line. Table borders and
runs of spaces are compared loosely, since a table's widths follow its contents.
"""

import re
from dataclasses import dataclass, field

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

#: The parts of an output that vary between runs, tried left to right.
_VARYING = re.compile(
    r"(?P<ellipsis>\.\.\.)"
    rf"|(?P<uuid>{UUID})"
    r"|(?P<url>(?:redis|https?)://[^\s;,)>]+)"
    r"|(?P<clock>\d{2}:\d{2}:\d{2}(?:\.\d+)?)"
    r"|(?P<host>(?<=\w@)[A-Za-z][\w-]*(?:\.[\w-]+)*)"
    r"|(?P<short>(?<![\w-])[0-9a-f]{8}(?![\w-]))"
    r"|(?P<decimal>\d+\.\d+)"
    r"|(?P<percent>\d+%)"
    r"|(?P<pid>(?<=pid=)\d+)"
)
_SHAPES = {
    "ellipsis": ".*",
    "url": r"(?:redis|https?)://[^\s;,)>]+",
    "clock": r"\d{2}:\d{2}:\d{2}(?:\.\d+)?",
    "host": r"[A-Za-z][\w-]*(?:\.[\w-]+)*",
    "decimal": r"\d+\.\d+",
    "percent": r"\d+%",
    "pid": r"\d+",
}


@dataclass
class Step:
    """One command of a transcript and the output shown under it."""

    command: str
    expected: list[str]
    block: int


def console_blocks(markdown: str) -> list[list[Step]]:
    """The ```console blocks of a Markdown text, each as its commands and their outputs."""
    blocks: list[list[Step]] = []
    for number, body in enumerate(re.findall(r"^```console\n(.*?)^```", markdown, re.M | re.S)):
        steps: list[Step] = []
        for line in body.splitlines():
            if line.startswith("$ "):
                steps.append(Step(line[2:].strip(), [], number))
            elif steps:
                steps[-1].expected.append(line)
            elif line.strip():
                raise ValueError(f"console block {number} has output before any command: {line}")
        blocks.append(steps)
    return blocks


def commands_outside_console_blocks(markdown: str) -> list[str]:
    """Lines that look like shell prompts in fenced blocks other than ```console ones."""
    found = []
    for language, body in re.findall(r"^```(\w*)\n(.*?)^```", markdown, re.M | re.S):
        if language != "console":
            found += [line for line in body.splitlines() if line.startswith("$ ")]
    return found


def _loose(line: str) -> str:
    """A line with table borders and runs of spaces made comparable across widths."""
    return re.sub(r"[ \t]+", " ", re.sub(r"[━─═]+", "─", line)).strip()


@dataclass
class Bindings:
    """The real ids that stand for the ids a transcript shows."""

    ids: dict[str, str] = field(default_factory=dict)

    def command(self, shown: str) -> str:
        """The command to run for one shown: every id it names replaced by the real one."""

        def real(match: re.Match[str]) -> str:
            if match.group(0) not in self.ids:
                raise KeyError(f"{shown!r} names an id no earlier output printed")
            return self.ids[match.group(0)]

        return re.sub(rf"{UUID}|(?<![\w-])[0-9a-f]{{8}}(?![\w-])", real, shown)

    def pattern(self, expected: str) -> tuple[re.Pattern[str], list[str]]:
        """A regular expression for one expected line, and the shown ids its groups capture."""
        parts: list[str] = []
        captured: list[str] = []
        last = 0
        line = _loose(expected)
        for token in _VARYING.finditer(line):
            kind = token.lastgroup or ""
            text = token.group(0)
            parts.append(re.escape(line[last : token.start()]))
            last = token.end()
            if kind in ("uuid", "short"):
                if kind == "short" and not re.search(r"\d", text):
                    parts.append(re.escape(text))
                elif text in self.ids:
                    parts.append(re.escape(self.ids[text]))
                else:
                    parts.append(
                        f"(?P<id{len(captured)}>{UUID if kind == 'uuid' else '[0-9a-f]{8}'})"
                    )
                    captured.append(text)
            else:
                parts.append(_SHAPES[kind])
        parts.append(re.escape(line[last:]))
        return re.compile("".join(parts)), captured

    def match(self, expected: str, actual: str) -> bool:
        """Whether a real line matches an expected one; binds the ids it shows first."""
        pattern, captured = self.pattern(expected)
        found = pattern.fullmatch(_loose(actual))
        if found is None:
            return False
        for index, shown in enumerate(captured):
            real = found.group(f"id{index}")
            if len(shown) == 36:
                self.ids[shown] = real
                self.ids.setdefault(shown[:8], real[:8])
            else:
                self.ids[shown] = real
        return True


def mismatch(expected: list[str], output: str, bindings: Bindings) -> str | None:
    """Say how `output` differs from the expected lines, or None when it matches them."""
    wanted = [line for line in expected if line.strip()]
    actual = [line for line in output.splitlines() if line.strip()]
    if all(line.strip() != "..." for line in wanted):
        if len(wanted) != len(actual):
            return f"{len(actual)} lines printed, {len(wanted)} shown"
        for shown, real in zip(wanted, actual, strict=True):
            if not bindings.match(shown, real):
                return f"shown: {shown!r}\nprinted: {real!r}"
        return None
    position = 0
    for shown in wanted:
        if shown.strip() == "...":
            continue
        while position < len(actual) and not bindings.match(shown, actual[position]):
            position += 1
        if position == len(actual):
            return f"shown but not printed (in this order): {shown!r}"
        position += 1
    return None
