"""Languages of the pages: Flask-Babel for server-rendered text, JSON catalogues for scripts.

The language is the user's choice, remembered by the page scripts in localStorage and in the
`redline_lang` cookie, so the server renders the next page in the same language. Chinese is
the default: the command rooms are Chinese county centres.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, request
from flask_babel import Babel, get_locale

# Catalogues live in translations/<lang>/LC_MESSAGES/messages.po. Chinese is in `zh`, not
# `zh_CN`: Babel parses zh_CN as zh_Hans_CN, and gettext's fallbacks for that are only
# zh_Hans_CN and zh. Regenerate the template with
# `pybabel extract -F web/translations/babel.cfg -o web/translations/messages.pot web/templates`.
TRANSLATIONS = Path(__file__).parent / "translations"
COOKIE = "redline_lang"
DEFAULT = "zh_CN"
# Babel locale -> the BCP 47 tag the pages and the script catalogues use
LANGUAGES = {"zh_CN": "zh-CN", "en": "en"}
_BY_TAG = {tag.lower(): loc for loc, tag in LANGUAGES.items()} | {
    loc.lower(): loc for loc in LANGUAGES} | {"zh": "zh_CN"}

log = logging.getLogger(__name__)


def normalise(value: str | None) -> str | None:
    """A Babel locale for a tag such as 'zh-CN', 'zh_CN', 'zh' or 'en'; None if unsupported."""
    if not value:
        return None
    return _BY_TAG.get(value.strip().lower())


def select_locale() -> str:
    """?lang= (a link or a test), then the remembered choice, then Chinese."""
    return (normalise(request.args.get("lang")) or normalise(request.cookies.get(COOKIE))
            or DEFAULT)


def lang_tag() -> str:
    """The BCP 47 tag of the current request's language."""
    return LANGUAGES.get(str(get_locale()), LANGUAGES[DEFAULT])


def compile_catalogues(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every messages.po whose .mo is missing or older; returns the files written."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parent.parent.name)
        try:
            with mo.open("wb") as f:
                write_mo(f, catalog)
        except OSError as exc:  # a read-only install ships its .mo files
            log.warning("cannot compile %s: %s", po, exc)
            continue
        written.append(mo)
    return written


def init_app(app: Flask) -> None:
    """Install Flask-Babel (once) with Redline's locale selector and template helpers."""
    if "babel" in app.extensions:
        return
    compile_catalogues()
    Babel(app, locale_selector=select_locale, default_locale=DEFAULT,
          default_translation_directories=str(TRANSLATIONS))

    @app.context_processor
    def _language() -> dict[str, Any]:
        return {"lang_tag": lang_tag(), "languages": LANGUAGES}
