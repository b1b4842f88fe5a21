"""Messages the dashboard's parts send each other."""

from __future__ import annotations

from textual.message import Message


class ModelRefreshed(Message):
    """The network model has new data; a newer one supersedes a queued older one."""

    def can_replace(self, message: Message) -> bool:
        """A newer refresh replaces a queued one."""
        return isinstance(message, ModelRefreshed)


class NetworkReady(Message):
    """The embedded testnet is up."""


class KeysMayFlow(Message):
    """A prompt became ready for keys, or closed: keys held meanwhile can be routed."""
