"""Streams read by a second process: the network and the parsing off the TUI's event loop."""

from monitor.hub.hub import HubStream, StreamHub

__all__ = ["HubStream", "StreamHub"]
