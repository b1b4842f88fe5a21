"""The `vaultnet` command line: one module per command family, dispatched from `main`."""
