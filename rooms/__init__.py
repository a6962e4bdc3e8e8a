"""Rooms: the catalog, the local fan-out hub, and the brokers that carry messages between workers."""
