"""iiq-kiosk: a check-in/check-out kiosk for devices tracked in Incident IQ."""

__version__ = "0.1.0"
