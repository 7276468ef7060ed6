from __future__ import annotations

from django.contrib.sessions.backends.cache import SessionStore

from logto_auth.storage import DictStorage, SessionStorage


def test_session_storage_round_trip_keeps_site_data() -> None:
    session = SessionStore()
    session["cart"] = ["book"]
    storage = SessionStorage(session)

    storage.set("idToken", "a.b.c")
    storage.set("refreshToken", "r1")
    assert storage.get("idToken") == "a.b.c"
    storage.set("refreshToken", None)
    assert storage.get("refreshToken") is None
    storage.delete("idToken")
    assert storage.get("idToken") is None
    assert session["cart"] == ["book"]


def test_update_replaces_tokens_but_not_pending_sign_ins() -> None:
    session = SessionStore()
    storage = SessionStorage(session)
    storage.set("accessTokenMap", "old")
    session["_logto_pending"] = {"state": {}}

    storage.update({"idToken": "new", "refreshToken": "r", "signInSession": "done"})

    assert storage.get("idToken") == "new"
    assert storage.get("refreshToken") == "r"
    assert storage.get("accessTokenMap") is None
    assert storage.get("signInSession") is None
    assert session["_logto_pending"] == {"state": {}}


def test_clear_forgets_only_logto_tokens() -> None:
    session = SessionStore()
    session["cart"] = ["book"]
    storage = SessionStorage(session)
    storage.update({"idToken": "t", "refreshToken": "r"})

    storage.clear()

    assert dict(session.items()) == {"cart": ["book"]}


def test_dict_storage() -> None:
    storage = DictStorage({"idToken": "t"})
    storage.set("refreshToken", "r")
    storage.delete("idToken")
    storage.set("accessTokenMap", None)
    assert storage.values == {"refreshToken": "r"}
