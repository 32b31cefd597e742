"""A tiny Django app (and the home of app-raised exception classes) for the corpus generator."""
