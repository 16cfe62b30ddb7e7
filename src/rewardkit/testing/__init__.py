"""Tiny, offline, randomly initialised models and tokenizers for tests and smoke runs."""
