"""The monitor's widgets, one per module; screens are in `monitor.tui.screens`."""
