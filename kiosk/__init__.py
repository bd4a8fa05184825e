"""iiq-kiosk: a check-in/check-out kiosk for devices tracked in Incident IQ."""

import os

__version__ = "0.1.0"

# pydantic looks for plugins among the entry points of every installed package the first
# time it builds a model (about 15 ms of start-up, before the first window); the kiosk uses
# none. Set PYDANTIC_DISABLE_PLUGINS yourself to decide otherwise.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
