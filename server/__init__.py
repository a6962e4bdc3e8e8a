"""Harbor: anonymous real-time peer-support chat. The server package composes rooms and moderation."""

__version__ = "0.1.0"
