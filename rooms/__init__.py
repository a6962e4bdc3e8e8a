"""Rooms: the catalog, the local fan-out hub, and the brokers that carry them between workers."""
