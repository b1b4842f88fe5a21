"""The clients: a MaidNode that stores, fetches and deletes chunks, versions and structured data
records, and an MpidNode that sends messages."""
