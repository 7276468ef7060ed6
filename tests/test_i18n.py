"""logto_auth speaks the visitor's language: its pages in every shipped language, every
marked string translated in each, and the log lines and API refusals kept in English."""

from __future__ import annotations

import gettext
import logging
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext_lazy

import logto_auth
from logto_auth.exceptions import ProviderError

APP = Path(logto_auth.__file__).parent
LOCALE = APP / "locale"
SHIPPED = ("de", "fr", "es", "ja", "ko", "pt_BR", "zh_Hans")


@dataclass(frozen=True)
class Language:
    accept: str  # what a browser sends
    code: str  # Django's language code, in <html lang>
    sign_out: str  # "Sign out?"
    failed: str  # "Sign-in failed"
    expired_link: str  # "This sign-in link has expired or was already used. ..."
    no_access: str  # "No access"


LANGUAGES = {
    "de": Language(
        "de-DE,de;q=0.9",
        "de",
        "Abmelden?",
        "Anmeldung fehlgeschlagen",
        "Dieser Anmeldelink ist abgelaufen oder wurde bereits verwendet.",
        "Kein Zugriff",
    ),
    "fr": Language(
        "fr-FR,fr;q=0.9",
        "fr",
        "Se déconnecter ?",
        "Échec de la connexion",
        "Ce lien de connexion a expiré ou a déjà été utilisé.",
        "Aucun accès",
    ),
    "es": Language(
        "es-ES,es;q=0.9",
        "es",
        "¿Cerrar sesión?",
        "Error al iniciar sesión",
        "Este enlace de inicio de sesión ha caducado o ya se usó.",
        "Sin acceso",
    ),
    "ja": Language(
        "ja",
        "ja",
        "サインアウトしますか？",  # noqa: RUF001  (Japanese punctuation)
        "サインインに失敗しました",
        "このサインインリンクは期限切れか、すでに使用されています。",
        "アクセス権がありません",
    ),
    "ko": Language(
        "ko-KR,ko;q=0.9",
        "ko",
        "로그아웃할까요?",
        "로그인에 실패했습니다",
        "이 로그인 링크는 만료되었거나 이미 사용되었습니다.",
        "접근 권한 없음",
    ),
    "pt_BR": Language(
        "pt-BR,pt;q=0.9",
        "pt-br",
        "Sair?",
        "Falha no login",
        "Este link de login expirou ou já foi usado.",
        "Sem acesso",
    ),
    "zh_Hans": Language(
        "zh-CN,zh;q=0.9",
        "zh-hans",
        "要退出登录吗？",  # noqa: RUF001  (Chinese punctuation)
        "登录失败",
        "此登录链接已过期或已被使用。",
        "无访问权限",
    ),
}
ENGLISH = Language(
    "en",
    "en",
    "Sign out?",
    "Sign-in failed",
    "This sign-in link has expired or was already used.",
    "No access",
)


def html_lang(page: str) -> str:
    found = re.search(r'<html lang="([^"]+)"', page)
    assert found, page[:200]
    return found.group(1)


@pytest.fixture(params=list(LANGUAGES))
def language(request: pytest.FixtureRequest) -> Language:
    return LANGUAGES[request.param]


@pytest.mark.django_db
def test_sign_out_page_is_in_the_browsers_language(language: Language) -> None:
    page = Client().get("/logto/sign-out/", HTTP_ACCEPT_LANGUAGE=language.accept)

    text = page.content.decode()
    assert page.status_code == 200
    assert language.sign_out in text
    assert ENGLISH.sign_out not in text
    assert html_lang(text) == language.code


@pytest.mark.django_db
def test_error_page_is_in_the_browsers_language(language: Language) -> None:
    page = Client().get("/logto/callback/?state=x&code=y", HTTP_ACCEPT_LANGUAGE=language.accept)

    text = page.content.decode()
    assert page.status_code == 400
    assert language.failed in text
    assert language.expired_link in text
    assert ENGLISH.failed not in text
    assert ENGLISH.expired_link not in text
    assert html_lang(text) == language.code


@pytest.mark.django_db
def test_admin_no_access_page_is_in_the_browsers_language(language: Language) -> None:
    client = Client()
    client.force_login(get_user_model().objects.create_user("carol"))

    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE=language.accept, follow=True)

    text = page.content.decode()
    assert page.status_code == 403
    assert language.no_access in text
    assert ENGLISH.no_access not in text
    assert html_lang(text) == language.code


@pytest.mark.django_db
def test_without_a_shipped_language_the_pages_are_english() -> None:
    page = Client().get("/logto/sign-out/", HTTP_ACCEPT_LANGUAGE="sv")

    assert ENGLISH.sign_out in page.content.decode()
    assert html_lang(page.content.decode()) == "en"


@pytest.mark.django_db
def test_the_demos_language_switcher_sets_the_language_of_logtos_pages_too() -> None:
    client = Client()
    home = client.get("/", HTTP_ACCEPT_LANGUAGE="de")
    assert 'action="/i18n/setlang/"' in home.content.decode()
    assert html_lang(home.content.decode()) == "de"

    chosen = client.post("/i18n/setlang/", {"language": "ja", "next": "/logto/sign-out/"})
    assert chosen.status_code == 302
    page = client.get(chosen["Location"], HTTP_ACCEPT_LANGUAGE="de")

    assert LANGUAGES["ja"].sign_out in page.content.decode()
    assert html_lang(page.content.decode()) == "ja"


@pytest.mark.django_db
def test_the_log_line_of_an_error_page_stays_english(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="logto_auth"):
        Client().get("/logto/callback/?state=x&code=y", HTTP_ACCEPT_LANGUAGE="de")

    assert ENGLISH.expired_link in caplog.text
    assert LANGUAGES["de"].expired_link not in caplog.text


@pytest.mark.django_db
def test_bearer_refusals_stay_english_and_ascii() -> None:
    response = Client().get(
        "/api/me/", HTTP_AUTHORIZATION="Bearer not-a-jwt", HTTP_ACCEPT_LANGUAGE="ja"
    )

    assert response.status_code == 401
    challenge = response["WWW-Authenticate"]
    assert challenge.isascii()
    assert 'error_description="The access token is invalid or expired."' in challenge


# --- the catalogs: complete, current, compiled ------------------------------------------


@dataclass
class Entry:
    msgid: str
    msgstr: str
    flags: set[str]


def read_po(path: Path) -> dict[str, Entry]:
    """Return the entries of a .po file by msgid (the header, msgid "", left out)."""
    entries: dict[str, Entry] = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#~")]
        flags = {
            flag.strip() for line in lines if line.startswith("#,") for flag in line[2:].split(",")
        }
        fields: dict[str, str] = {}
        current = ""
        for line in lines:
            if line.startswith("#") or not line.strip():
                continue
            keyword, _, rest = line.partition(" ")
            if not line.startswith('"'):
                current, line = keyword, rest
            fields[current] = fields.get(current, "") + unquote(line)
        if fields.get("msgid"):
            entries[fields["msgid"]] = Entry(fields["msgid"], fields.get("msgstr", ""), flags)
    return entries


def unquote(text: str) -> str:
    text = text.strip()
    assert text.startswith('"'), text
    assert text.endswith('"'), text
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes[m.group(1)], text[1:-1])


@pytest.fixture(scope="module")
def gettext_tools() -> None:
    missing = [tool for tool in ("xgettext", "msgmerge", "msgfmt") if not shutil.which(tool)]
    if missing:
        pytest.fail(
            f"GNU gettext is missing ({', '.join(missing)} not on PATH): install the Debian "
            "package 'gettext' (./scripts/test does when it runs as root)."
        )


@pytest.fixture(scope="module")
def marked(gettext_tools: None, tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Return the msgids marked in logto_auth's code and templates now, by makemessages run
    on a copy of the app (the shipped catalogs are left alone)."""
    copy = tmp_path_factory.mktemp("app") / "logto_auth"
    shutil.copytree(APP, copy, ignore=shutil.ignore_patterns("__pycache__", "locale"))
    (copy / "locale").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(copy)
        call_command("makemessages", locale=["de"], verbosity=0, add_location="file")
    return set(read_po(copy / "locale" / "de" / "LC_MESSAGES" / "django.po"))


def test_every_language_is_shipped_with_its_source_and_compiled_catalog() -> None:
    shipped = sorted(path.name for path in LOCALE.iterdir() if path.is_dir())
    assert shipped == sorted(SHIPPED)
    for language in SHIPPED:
        assert (LOCALE / language / "LC_MESSAGES" / "django.po").is_file()
        assert (LOCALE / language / "LC_MESSAGES" / "django.mo").is_file()


@pytest.mark.parametrize("language", SHIPPED)
def test_every_marked_string_is_translated(marked: set[str], language: str) -> None:
    catalog = read_po(LOCALE / language / "LC_MESSAGES" / "django.po")

    assert sorted(marked - set(catalog)) == [], "marked but not in the catalog: run makemessages"
    assert sorted(set(catalog) - marked) == [], "in the catalog but no longer marked"
    assert [msgid for msgid, entry in catalog.items() if not entry.msgstr.strip()] == []
    assert [msgid for msgid, entry in catalog.items() if "fuzzy" in entry.flags] == []
    for msgid, entry in catalog.items():
        placeholders = sorted(re.findall(r"%\(\w+\)s", msgid))
        assert sorted(re.findall(r"%\(\w+\)s", entry.msgstr)) == placeholders, msgid
        assert sorted(re.findall(r"</?\w+>", entry.msgstr)) == sorted(
            re.findall(r"</?\w+>", msgid)
        ), msgid


@pytest.mark.parametrize("language", SHIPPED)
def test_compiled_catalog_matches_its_source(
    gettext_tools: None, tmp_path: Path, language: str
) -> None:
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    fresh = tmp_path / "django.mo"
    # --check also catches a bad header or a placeholder the format flags disagree with.
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(po)], check=True)

    with (LOCALE / language / "LC_MESSAGES" / "django.mo").open("rb") as file:
        shipped = gettext.GNUTranslations(file)
    with fresh.open("rb") as file:
        compiled = gettext.GNUTranslations(file)

    assert shipped.info() == compiled.info(), "django.mo is stale: run compilemessages"
    for msgid, entry in read_po(po).items():
        assert shipped.gettext(msgid) == entry.msgstr, "django.mo is stale: run compilemessages"


@pytest.mark.django_db
def test_models_need_no_migration_for_their_translated_names(capsys: Any) -> None:
    call_command("makemigrations", "logto_auth", "--check", "--dry-run", verbosity=1)
    assert "No changes detected" in capsys.readouterr().out


def test_an_errors_placeholders_are_filled_in_the_language_it_is_read_in() -> None:
    error = ProviderError(gettext_lazy("The sign-in service answered HTTP %(status)s."), status=502)

    with translation.override("de"):
        assert str(error) == "Der Anmeldedienst antwortete mit HTTP 502."
    with translation.override("en"):
        assert str(error) == "The sign-in service answered HTTP 502."
