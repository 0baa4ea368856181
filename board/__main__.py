"""`python -m board`: the same as the `board` console script."""

from board.cli import main

main()
