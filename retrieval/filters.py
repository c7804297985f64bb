"""Metadata filters, expressed once and applied identically to dense (Chroma where) and lexical (tantivy) search."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time
from typing import Any

from configs.errors import InvalidRequest
from retrieval.types import TAG_PREFIX

FILTER_KEYS = ("collections", "file_types", "tags", "sources", "modified_after", "modified_before")


def _epoch(value: Any, key: str, end_of_day: bool) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time.max if end_of_day else time.min)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidRequest(f"filter {key}={value!r} is not a date; use YYYY-MM-DD") from exc
        if len(value) == 10 and end_of_day:
            moment = datetime.combine(moment.date(), time.max)
    else:
        raise InvalidRequest(f"filter {key}={value!r} is not a date; use YYYY-MM-DD")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) and v for v in value):
        raise InvalidRequest(f"filter {key} must be a list of non-empty strings, got {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class Filter:
    """AND across fields, OR within a field; an empty field does not restrict. Dates compare file mtime."""

    collections: tuple[str, ...] = ()
    file_types: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    modified_after: int | None = None  # epoch seconds, inclusive
    modified_before: int | None = None  # epoch seconds, inclusive

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None) -> Filter:
        """Validate a filter from user input (API body, UI); an unknown key or bad value is an InvalidRequest."""
        if not data:
            return cls()
        if not isinstance(data, Mapping):
            raise InvalidRequest(f"filters must be an object with keys {', '.join(FILTER_KEYS)}")
        unknown = sorted(set(data) - set(FILTER_KEYS))
        if unknown:
            raise InvalidRequest(f"unknown filter key(s) {', '.join(unknown)}; use {', '.join(FILTER_KEYS)}")
        after = data.get("modified_after")
        before = data.get("modified_before")
        flt = cls(
            collections=_strings(data.get("collections"), "collections"),
            file_types=tuple(t.lower().lstrip(".") for t in _strings(data.get("file_types"), "file_types")),
            tags=_strings(data.get("tags"), "tags"),
            sources=_strings(data.get("sources"), "sources"),
            modified_after=None if after in (None, "") else _epoch(after, "modified_after", False),
            modified_before=None if before in (None, "") else _epoch(before, "modified_before", True),
        )
        if (
            flt.modified_after is not None
            and flt.modified_before is not None
            and flt.modified_after > flt.modified_before
        ):
            raise InvalidRequest("filter modified_after is later than modified_before; swap them")
        return flt

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) in ((), None) for f in fields(self))

    def to_where(self) -> dict[str, Any] | None:
        """The same filter as a Chroma `where` clause."""
        clauses: list[dict[str, Any]] = []
        for key, values in (("collection", self.collections), ("file_type", self.file_types), ("source", self.sources)):
            if values:
                clauses.append({key: {"$in": list(values)}})
        if self.tags:
            tag_clauses = [{TAG_PREFIX + t: {"$eq": True}} for t in self.tags]
            clauses.append(tag_clauses[0] if len(tag_clauses) == 1 else {"$or": tag_clauses})
        if self.modified_after is not None:
            clauses.append({"mtime": {"$gte": self.modified_after}})
        if self.modified_before is not None:
            clauses.append({"mtime": {"$lte": self.modified_before}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def matches(self, meta: Mapping[str, Any]) -> bool:
        """The same filter evaluated on one chunk's metadata."""
        if self.collections and meta.get("collection") not in self.collections:
            return False
        if self.file_types and meta.get("file_type") not in self.file_types:
            return False
        if self.sources and meta.get("source") not in self.sources:
            return False
        if self.tags and not any(meta.get(TAG_PREFIX + t) is True for t in self.tags):
            return False
        mtime = meta.get("mtime")
        if self.modified_after is not None and (mtime is None or mtime < self.modified_after):
            return False
        return not (self.modified_before is not None and (mtime is None or mtime > self.modified_before))


@dataclass(frozen=True)
class Scope:
    """The collections a reader may see: every one (collections None) or a set, possibly empty. Every search,
    filter value list and file lookup on behalf of a reader goes through one; a request's own filter can narrow
    it, never widen it."""

    collections: frozenset[str] | None = None

    def restrict(self, flt: Filter) -> Filter | None:
        """The filter narrowed to this scope; None when nothing can match (search nothing)."""
        if self.collections is None:
            return flt
        wanted = self.collections & set(flt.collections) if flt.collections else self.collections
        return replace(flt, collections=tuple(sorted(wanted))) if wanted else None

    def allows(self, collection: str) -> bool:
        return self.collections is None or collection in self.collections


EVERYTHING = Scope()


def check_known(flt: Filter, facets: Mapping[str, Sequence[str]]) -> None:
    """A filter value the index has never seen is almost always a typo: say so instead of answering nothing."""
    for name, key in (("collections", "collection"), ("file_types", "file_type"), ("tags", "tag")):
        unknown = [v for v in getattr(flt, name) if v not in facets.get(key, [])]
        if unknown:
            known = ", ".join(facets.get(key, [])) or "none"
            raise InvalidRequest(f"unknown {key} {', '.join(map(repr, unknown))} in filters (known: {known})")
