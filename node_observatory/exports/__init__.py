"""The safety verdict in formats other software reads: a Boltwood one-line file, an ASCOM Alpaca SafetyMonitor."""
