"""The portal's cookie-signing key: from the environment, else made once, private, and kept."""

from __future__ import annotations

import os
import stat

from reportlib.portal.app import secret_key


def test_the_cookie_key_is_made_once_readable_by_its_owner_only_and_kept(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "pyproject.toml").touch()
    monkeypatch.setenv("REPORTLIB_HOME", str(tmp_path))
    monkeypatch.delenv("REPORTLIB_PORTAL_SECRET", raising=False)
    first = secret_key()
    path = tmp_path / "data" / "portal-secret"
    assert len(first) >= 40 and path.read_text().strip() == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert secret_key() == first  # sessions outlive a restart
    monkeypatch.setenv("REPORTLIB_PORTAL_SECRET", "from-the-environment-" + "k" * 30)
    assert secret_key().startswith("from-the-environment-")
