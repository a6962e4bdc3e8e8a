"""Harbor's worker: the web app, the chat socket and the moderator routes, composing `rooms`,
`moderation` and `casework`. `lifespan.py` wires one worker (the composition root);
`context.py` is its frozen wiring and `registry.py` its live connections; the README's layout
section says what each other module does."""

__version__ = "0.1.0"
