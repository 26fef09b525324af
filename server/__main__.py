"""`python -m server`: the same as `sse-demo-server`."""

from server.cli import main

main()
