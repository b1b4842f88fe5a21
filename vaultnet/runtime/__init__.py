"""The runtime: vaults on a transport, the persona host, events, faults, the control port and the
testnet launcher."""
