"""`python -m monitor`: the same as `sse-monitor`."""

from monitor.cli import main

raise SystemExit(main())
