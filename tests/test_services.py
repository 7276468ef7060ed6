"""The services the integration and end-to-end tiers need: CI fails without them, a
developer's run skips their tests."""

from __future__ import annotations

import pytest

from tests import services


def test_missing_services_fail_where_required_and_skip_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(services, "POSTGRES", "postgresql://postgres@127.0.0.1:9/x")

    monkeypatch.setenv("LOGTO_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="not available"):
        services.require_services()
    monkeypatch.delenv("LOGTO_REQUIRE_SERVICES")
    with pytest.raises(pytest.skip.Exception, match="not available"):
        services.require_services()
