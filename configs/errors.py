"""The project's error hierarchy: every message says what to do about it."""


class KBError(Exception):
    """Base class: a problem a user can fix; str(error) is the one-line message to show."""


class ConfigError(KBError):
    """A configuration file, key or value is wrong."""


class IngestError(KBError):
    """An ingest run cannot proceed (not: one bad file, which is skipped and reported)."""


class IndexBusy(IngestError):
    """Another process is writing the same index."""


class InvalidRequest(KBError):
    """What was asked cannot be done as asked (an empty or over-long question, a filter value that is not a date,
    a reranker asked for where none is configured): change the request and send it again."""


class NotFound(KBError):
    """No such thing for this user: a conversation, item or stored response, a feedback entry."""


class StoreUnavailable(KBError):
    """A store the server keeps its state in (conversations, keys, feedback, the audit trail; SQLite or PostgreSQL)
    cannot be opened or reached."""


class ModelUnavailable(KBError):
    """A model (embedder, reranker, LLM) cannot be loaded or reached."""


class AccessDenied(KBError):
    """The signed-in user may not do this (a collection outside their groups' access)."""
