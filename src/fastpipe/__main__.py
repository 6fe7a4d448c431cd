"""`python -m fastpipe`."""

from fastpipe.cli import main

main()
