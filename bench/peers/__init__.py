"""Reference servers the bench measures Harbor against, in the same run and on the same Redis."""
