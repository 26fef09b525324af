"""Minimal topic fan-out servers on the SSE libraries users would otherwise pick.

They exist only to be measured against `sse-demo-server`: same routes, same `ticker` load shape.
"""
