"""Harbor: anonymous real-time peer-support chat. `server` composes rooms and moderation."""

__version__ = "0.1.0"
