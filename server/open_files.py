"""The open-files limit: raised to the hard limit at start-up, with a warning when still short."""

from __future__ import annotations

import logging
import resource

log = logging.getLogger("uvicorn.error")
RESERVED_FILES = 64  # listening sockets, the backend, logs and recordings, besides connections


def raise_open_files_limit(connections: int) -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one; warn when it holds fewer `connections`.

    Returns the soft limit now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:  # e.g. a hard limit the kernel caps lower
            log.warning("could not raise the open-files limit from %d to %d: %s", soft, hard, exc)
    needed = connections + RESERVED_FILES
    if soft != resource.RLIM_INFINITY and soft < needed:
        log.warning("the open-files limit is %d, below the %d that %d connections need: "
                    "raise it (ulimit -n, LimitNOFILE=) or lower --max-streams", soft, needed,
                    connections)
    return soft
