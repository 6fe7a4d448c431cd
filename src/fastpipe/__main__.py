"""`python -m fastpipe`."""

from fastpipe.entry import main

main()
