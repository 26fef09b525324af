"""The screens: the live panes, a replay, help and the topic dialog."""
