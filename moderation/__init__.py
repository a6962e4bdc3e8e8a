"""Moderation: a pure core (text in, verdict out) and the durable flag queue around it."""
