"""Recordings: the file format, playback at a pace, and feeds that play them into panes."""
