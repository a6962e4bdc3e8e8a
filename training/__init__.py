"""Training the learned second stage of moderation (moderation/learned.py) from this
repository's own labelled corpus, by one command: ``python -m training``.

Needs the ``train`` extra (scikit-learn); the server never imports this package.
"""
