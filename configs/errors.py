"""The project's error hierarchy: every message says what to do about it."""


class KBError(Exception):
    """Base class: a problem a user can fix; str(error) is the one-line message to show."""


class ConfigError(KBError):
    """A configuration file, key or value is wrong."""


class IngestError(KBError):
    """An ingest run cannot proceed (not: one bad file, which is skipped and reported)."""


class IndexBusy(IngestError):
    """Another process is writing the same index."""


class RetrievalError(KBError):
    """A query or filter is invalid, or the index cannot be read."""


class ModelUnavailable(KBError):
    """A model (embedder, reranker, LLM) cannot be loaded or reached."""


class AccessDenied(KBError):
    """The signed-in user may not do this (a collection outside their groups' access)."""
