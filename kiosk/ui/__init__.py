"""Widgets, dialogs and the controllers that drive them."""
