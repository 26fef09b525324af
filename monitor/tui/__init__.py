"""The Textual monitor: app, screens, widgets and renderers, over monitor.client."""
