"""Without Textual: one SSE stream from bytes to typed items, and the stream process."""
