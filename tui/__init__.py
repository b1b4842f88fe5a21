"""The vaultnet dashboard: a Textual app hosting a live testnet (`vaultnet tui`)."""
