"""The waiter's commands, by topic; waiter.cli registers them with the program."""


def examples(*lines: str) -> str:
    """A --help epilog: 'Examples:' and command lines, which click prints as they are."""
    # "\b" alone on the paragraph's first line stops click from rewrapping the paragraph.
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)
