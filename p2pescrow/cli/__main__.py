"""``python -m p2pescrow.cli``: the command line."""

from p2pescrow.cli import main

main()
