"""Streams read by a second process: the network and the parsing off the TUI's event loop."""

from monitor.client.process.remote import RemoteStream, StreamProcess

__all__ = ["RemoteStream", "StreamProcess"]
