"""One module per mode: check out, check in (with cart batches), look up, batch check-out,
distribution line. Each is a `Flow` (see `base`) driven by the shell."""
