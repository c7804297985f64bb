"""Who a chat platform's user is to the knowledge base (serving.doors.core.person)."""

from __future__ import annotations

from pathlib import Path

from configs.loading import load_settings
from serving.access.identity import Access
from serving.access.keys import KeyStore
from serving.doors.core import person


def test_people_are_mapped_by_e_mail_else_by_a_key_made_for_it_else_refused_or_read_nothing(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "auth.sqlite")
    keys.create("bob@example.com", frozenset({"it-staff"}))
    groups = {"hr-staff": ["hr"], "it-staff": ["it"]}
    settings = load_settings(environ={}, overrides={"doors": {"people": {"Maria@Example.com": ["hr-staff"]}}})
    access = Access(load_settings(environ={}, overrides={"access": {"groups": groups}}).access)

    maria = person(settings, keys, True, "maria@example.com ")
    assert maria is not None and maria.groups == {"hr-staff"} and access.read_scope(maria).collections == {"hr"}
    bob = person(settings, keys, True, "BOB@example.com")
    assert bob is not None and access.read_scope(bob).collections == {"it"}
    assert person(settings, keys, True, "eve@example.com") is None  # doors.unmapped: refuse (the default)
    assert person(settings, keys, True, None) is None
    anonymous = settings.model_copy(update={"doors": settings.doors.model_copy(update={"unmapped": "anonymous"})})
    for auth_required in (True, False):  # never the machine's local user, even on a server without sign-in
        eve = person(anonymous, keys, auth_required, "eve@example.com")
        assert eve is not None and eve.via == "door" and access.read_scope(eve).collections == frozenset()
    # a look-alike address (a Kelvin sign for the K) does not lower() into a mapped one
    kate = settings.model_copy(
        update={"doors": settings.doors.model_copy(update={"people": {"kate@example.com": ["x"]}})}
    )
    assert person(kate, keys, True, "\u212aate@example.com") is None
    assert person(kate, keys, True, "Kate@example.com") is not None
