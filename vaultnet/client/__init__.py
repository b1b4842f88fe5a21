"""The clients: a MaidNode that stores, fetches and deletes chunks and versions, and an MpidNode
that sends messages."""
