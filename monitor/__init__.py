"""sse-monitor: a spec-exact, reconnecting SSE client, its plain output mode and a Textual TUI."""
