"""Steering a running testnet: the handle the dashboard drives, in process or over the control port
(server and remote side)."""
