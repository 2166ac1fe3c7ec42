"""Every string of the command room, the tablet and the login page exists in zh-CN and en.

Scripts translate with RL.t("key") from web/static/i18n/<lang>.json; templates with
Flask-Babel's _("English text") from web/translations/<lang>/LC_MESSAGES/messages.po.
"""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from command.drills import OUTCOME_TEXT
from command.models import AssignmentStatus, IncidentKind, IncidentStatus, TaskStatus, UnitStatus
from command.service import RELEASE_TEXT, REROUTE_TEXT
from dispatch.coverage import COVER_TEXT
from dispatch.hazard import SOURCE_TEXT
from plans.matching import REASON_TEXT
from plans.schema import Capability
from web import create_app

WEB = Path(__file__).resolve().parents[2] / "web"
I18N = WEB / "static" / "i18n"
LANGS = ("zh-CN", "en")
PO = {"zh-CN": WEB / "translations" / "zh" / "LC_MESSAGES" / "messages.po",
      "en": WEB / "translations" / "en" / "LC_MESSAGES" / "messages.po"}
# the trainer pages keep their own strings (web/static/js/trainer-i18n.js)
SCRIPTS = sorted(p for p in (WEB / "static" / "js").glob("*.js")
                 if not p.name.startswith("trainer"))
# a literal key; a prefix such as t("kind." + kind) ends in "." and is checked by FAMILIES
KEY_CALL = re.compile(r"""\b(?:t|tOr)\(\s*["']([A-Za-z0-9_.]*[A-Za-z0-9_])["']""")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# keys built at run time as prefix + value: every value the hub can send must be there
FAMILIES: dict[str, list[str]] = {
    "kind.": [k.value for k in IncidentKind],
    "unit_status.": [s.value for s in UnitStatus],
    "task_status.": [s.value for s in TaskStatus],
    "incident_status.": [s.value for s in IncidentStatus],
    "assignment_status.": [s.value for s in AssignmentStatus],
    "capability.": list(typing.get_args(Capability)),
}
# server-made reasons: English templates in the domain, "reason.<code>" in the catalogues
REASON_TEMPLATES: dict[str, str] = {**REASON_TEXT, **SOURCE_TEXT, **COVER_TEXT, **RELEASE_TEXT,
                                    **REROUTE_TEXT, **OUTCOME_TEXT}
FAMILIES["reason."] = list(REASON_TEMPLATES)


def catalogue(lang: str) -> dict[str, str]:
    return json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))


def test_script_catalogues_have_the_same_keys_and_no_empty_value() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    assert set(zh) == set(en), {"only zh-CN": set(zh) - set(en), "only en": set(en) - set(zh)}
    for lang, cat in (("zh-CN", zh), ("en", en)):
        empty = [k for k, v in cat.items() if not isinstance(v, str) or not v.strip()]
        assert empty == [], f"{lang}: empty strings for {empty}"
    # a placeholder missing in one language would print "{n}" on that screen
    differ = {k: (zh[k], en[k]) for k in zh
              if set(PLACEHOLDER.findall(zh[k])) != set(PLACEHOLDER.findall(en[k]))}
    assert differ == {}


def test_every_key_the_scripts_use_exists() -> None:
    cat = catalogue("en")
    used: dict[str, str] = {}
    for script in SCRIPTS:
        for key in KEY_CALL.findall(script.read_text(encoding="utf-8")):
            used.setdefault(key, script.name)
    assert len(used) > 100, "the key scan found too little: did the scripts change style?"
    missing = {k: f for k, f in used.items() if k not in cat}
    assert missing == {}
    for prefix, values in FAMILIES.items():
        absent = [prefix + v for v in values if prefix + v not in cat]
        assert absent == [], absent


def test_reason_templates_are_the_english_catalogue_word_for_word() -> None:
    # the server's English text and the English page must say the same thing
    en, zh = catalogue("en"), catalogue("zh-CN")
    differ = {code: (text, en.get("reason." + code)) for code, text in REASON_TEMPLATES.items()
              if en.get("reason." + code) != text}
    assert differ == {}
    for code, text in REASON_TEMPLATES.items():
        assert set(PLACEHOLDER.findall(zh["reason." + code])) == set(PLACEHOLDER.findall(text))


def test_the_scan_notices_a_missing_key(tmp_path: Path) -> None:
    # the checker itself: a script using an unknown key is caught
    text = 'el.textContent = RL.t("no.such.key", {n: 1}); x = t("conn.live");'
    keys = KEY_CALL.findall(text)
    assert keys == ["no.such.key", "conn.live"]
    assert [k for k in keys if k not in catalogue("en")] == ["no.such.key"]


def template_messages() -> set[str]:
    found = extract_from_dir(str(WEB / "templates"), method_map=[("**.html", "jinja2")])
    out = set()
    for filename, _line, message, _comments, _ctx in found:
        if filename.startswith("trainer"):
            continue
        out.add(message if isinstance(message, str) else message[0])
    return out


@pytest.mark.parametrize("lang", LANGS)
def test_every_template_string_is_translated(lang: str) -> None:
    with PO[lang].open("rb") as f:
        po = read_po(f)
    translated = {m.id: m.string for m in po if m.id}
    messages = template_messages()
    assert len(messages) > 50
    missing = sorted(m for m in messages if not translated.get(m))
    assert missing == [], f"{lang}: untranslated template strings {missing}"
    fuzzy = [m.id for m in po if m.id and m.fuzzy]
    assert fuzzy == []


def test_po_catalogues_match() -> None:
    ids = {}
    for lang in LANGS:
        with PO[lang].open("rb") as f:
            ids[lang] = {m.id for m in read_po(f) if m.id}
    assert ids["zh-CN"] == ids["en"]


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Any:
    db = tmp_path_factory.mktemp("i18n") / "i18n.db"
    app = create_app({"DATABASE_URL": f"sqlite:///{db}", "LOAD_DEMO": False,
                      "ASYNC_MODE": "threading", "DRILL_SCHEDULER": False, "TESTING": True})
    return app.test_client()


@pytest.mark.parametrize(("path", "zh", "en"), [
    ("/", "指挥大厅", "Command room"),
    ("/unit", "车载终端", "Unit tablet"),
    ("/login", "登录", "Log in"),
])
def test_pages_render_in_the_chosen_language(pages: Any, path: str, zh: str, en: str) -> None:
    default = pages.get(path).get_data(as_text=True)
    assert f"<title>{zh} · 红线</title>" in default  # Chinese unless the user chose otherwise
    assert 'data-i18n-url="/static/i18n/zh-CN.json"' in default
    pages.set_cookie("redline_lang", "en")
    english = pages.get(path).get_data(as_text=True)
    pages.delete_cookie("redline_lang")
    assert f"<title>{en} · Redline</title>" in english
    assert 'lang="en"' in english and 'data-i18n-url="/static/i18n/en.json"' in english
    assert pages.get(path + "?lang=zh-CN").get_data(as_text=True).count(zh) >= 1
    for lang in LANGS:
        assert pages.get(f"/static/i18n/{lang}.json").status_code == 200
