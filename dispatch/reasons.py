"""Server-made explanations as English text plus machine-readable parts.

Reasons (why a scenario matched, why a unit was released, where an isolation distance comes
from, what a drill inject did, why an enterprise lost its cover) are shown in the Chinese UI.
The English text stays for logs and API consumers; the parts, [{"code", "params"}, ...], let
the pages render the same reason through web/static/i18n/<lang>.json under "reason.<code>".

The text is produced from the parts with the English templates, so the two never disagree.
Lives in dispatch because it is the lowest domain package (plans and command import it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Part = dict[str, Any]  # {"code": str, "params": {name: value}}


class Reason:
    """Accumulates parts and the English text rendered from them (plus punctuation)."""

    def __init__(self, templates: Mapping[str, str]) -> None:
        self.templates = templates
        self.parts: list[Part] = []
        self._chunks: list[str] = []

    def add(self, code: str, sep: str = "; ", **params: Any) -> Reason:
        """Append one part; sep goes before it in the text unless the text is still empty."""
        text = self.templates[code].format(**params)  # KeyError: a code without a template
        if self._chunks:
            self._chunks.append(sep)
        self._chunks.append(text)
        self.parts.append({"code": code, "params": dict(params)})
        return self

    def punct(self, s: str) -> Reason:
        """Punctuation that is in the text only, e.g. the ")" closing a parenthetical."""
        self._chunks.append(s)
        return self

    def extend(self, other: Reason, sep: str = "; ") -> Reason:
        """Append another reason's parts and text."""
        if other.parts:
            if self._chunks:
                self._chunks.append(sep)
            self._chunks.append(other.text)
            self.parts.extend(other.parts)
        return self

    @property
    def text(self) -> str:
        return "".join(self._chunks)


def reason(templates: Mapping[str, str], code: str, **params: Any) -> Reason:
    """A one-part reason."""
    return Reason(templates).add(code, **params)


__all__ = ["Part", "Reason", "reason"]
