"""The adopter's path: the built wheel in a fresh virtualenv, a project from
``django-admin startproject``, the quick start's snippets taken from docs/quickstart.md
as they stand, then alice signed in and out over real HTTP with LoginRequiredMiddleware on,
opening on the way every admin page the app changes or adds.

Run on the newest and the oldest leg of the support matrix (marker ``adopter``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import django
import pytest
import requests

from tests.devprovider import ROOT, DevProvider
from tests.e2e.test_servers import run_server
from tests.services import free_port

# Installing into a fresh virtualenv takes a while on a busy 2-core machine.
pytestmark = [pytest.mark.e2e, pytest.mark.adopter, pytest.mark.timeout(900)]
QUICKSTART = ROOT / "docs" / "quickstart.md"
SNIPPET = re.compile(r"<!-- adopter: (\w+)(?: (\S+))? -->\n```\w*\n(.*?)```", re.DOTALL)
# The admin's lists that logto_auth changes (users) or adds (the Logto identity pages).
ADMIN_LISTS = (
    "/admin/auth/user/",
    "/admin/logto_auth/logtoidentity/",
    "/admin/logto_auth/logtomembership/",
)


def snippets() -> list[tuple[str, str, str]]:
    """``(action, path, code)`` for each snippet the quick start marks for adopters."""
    found = [(m[1], m[2] or "", m[3]) for m in SNIPPET.finditer(QUICKSTART.read_text())]
    assert len(found) >= 4, "the quick start lost its marked snippets"
    return found


def assert_renders(http: requests.Session, url: str) -> str:
    page = http.get(url, allow_redirects=False, timeout=10)
    # runserver keeps startproject's DEBUG: a 500 page's title names the exception.
    title = re.search(r"<title>\s*(.*?)\s*</title>", page.text, re.DOTALL)
    assert page.status_code == 200, f"{url} answered {page.status_code}: {title and title[1]}"
    assert "TemplateDoesNotExist" not in page.text, url
    return page.text


def assert_admin_pages_render(http: requests.Session, origin: str) -> None:
    """Open the admin's index, and each list the app changes or adds with its first entry."""
    assert_renders(http, f"{origin}/admin/")
    for changelist in ADMIN_LISTS:
        listing = assert_renders(http, f"{origin}{changelist}")
        entry = re.search(rf'href="({re.escape(changelist)}\d+/change/)', listing)
        assert entry is not None, f"{changelist} lists nothing"
        assert_renders(http, f"{origin}{entry[1]}")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh virtualenv with the wheel and this leg's Django, and a new project in it."""
    work = tmp_path_factory.mktemp("adopter")
    # The package as CI checks it: built apart from the tree, contents and metadata checked.
    build = [sys.executable, str(ROOT / "scripts" / "check_package.py"), "--outdir", str(work)]
    subprocess.run(build, check=True)
    [wheel] = work.glob("django_logto_auth-*.whl")
    venv.create(work / "venv", with_pip=True)
    python = work / "venv" / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, f"Django=={django.__version__}"], check=True)
    subprocess.run([*pip, str(wheel)], check=True)
    return python, work


def test_wheel_leaves_the_installed_django_alone(project: tuple[Path, Path]) -> None:
    python, _ = project
    version = subprocess.run(
        [str(python), "-c", "import django; print(django.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == django.__version__


def test_quick_start_signs_alice_in_and_out(
    project: tuple[Path, Path], dev_provider: DevProvider
) -> None:
    python, work = project
    site = work / "site"
    site.mkdir(exist_ok=True)
    subprocess.run([str(python), "-m", "django", "startproject", "mysite", str(site)], check=True)
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "LOGTO_ENDPOINT": dev_provider.url,
        "LOGTO_APP_ID": "django-demo",
        "LOGTO_APP_SECRET": "django-demo-secret",
        "DJANGO_SETTINGS_MODULE": "mysite.settings",
        "PYTHONPATH": "",
    }
    for action, path, code in snippets():
        if action == "append":
            with (site / path).open("a") as file:
                file.write("\n" + code)
        elif action == "replace":
            (site / path).write_text(code)
        elif action == "run":
            for line in code.splitlines():
                command = line.split()
                assert command[:2] == ["python", "manage.py"], line
                subprocess.run([str(python), *command[1:]], cwd=site, env=env, check=True)
    dev_provider.register_site(origin)

    server = run_server(
        [str(python), "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        env,
        port,
        migrate=False,
        cwd=site,
    )
    try:
        http = requests.Session()
        first = http.get(f"{origin}/", allow_redirects=False, timeout=10)
        assert first.status_code == 302  # LoginRequiredMiddleware: off to sign in
        assert first.headers["Location"].startswith("/logto/sign-in/?next=/")
        dev_provider.sign_in_over_http(origin, "alice", http)

        assert http.get(f"{origin}/", timeout=10).text == "Signed in as alice0k7x2qm"
        assert http.get(f"{origin}/async/", timeout=10).text == "Signed in as alice0k7x2qm"
        # alice has Logto's role admin, which the quick start maps to staff and superuser.
        assert_admin_pages_render(http, origin)

        form = http.get(f"{origin}/logto/sign-out/", timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token is not None
        out = http.post(
            f"{origin}/logto/sign-out/",
            {"csrfmiddlewaretoken": token[1]},
            headers={"Referer": f"{origin}/logto/sign-out/"},
            allow_redirects=False,
            timeout=10,
        )
        assert out.status_code == 302
        assert out.headers["Location"].startswith(f"{dev_provider.issuer}/session/end")
        again = http.get(f"{origin}/", allow_redirects=False, timeout=10)
        assert again.status_code == 302
    finally:
        server.terminate()
        server.wait(timeout=10)
