"""Severity and response levels labelled so nobody reads "level 1" as the worst.

Severity runs 1 (mildest) to 4 (worst); response levels run I (most severe, 特别重大) to
IV (mildest, 一般). The enterprise plan's level and the government's level are kept apart: the
government's is set, raised, lowered and ended (响应终止) by the commander's decision.
"""

from __future__ import annotations

from typing import Any

SEVERITY_MAX = 4
LEVELS: tuple[str, ...] = ("I", "II", "III", "IV")
LEVEL_NAMES_ZH = {"I": "特别重大", "II": "重大", "III": "较大", "IV": "一般"}
LEVEL_NAMES_EN = {"I": "most severe", "II": "severe", "III": "serious", "IV": "general, mildest"}
GOVERNMENT_ACTIONS = ("set", "raise", "lower", "end")


def severity_label(value: int) -> dict[str, Any]:
    """Severity with its scale: 1 is the mildest, SEVERITY_MAX the worst."""
    end_en = " (mildest)" if value == 1 else " (worst)" if value == SEVERITY_MAX else ""
    end_zh = "（最轻）" if value == 1 else "（最重）" if value == SEVERITY_MAX else ""
    return {"value": value, "max": SEVERITY_MAX, "higher_is_worse": True,
            "en": f"severity {value} of {SEVERITY_MAX}{end_en}",
            "zh": f"严重程度 {value}/{SEVERITY_MAX}{end_zh}"}


def level_label(level: str | None) -> dict[str, Any] | None:
    """A response level with its name: I is the most severe, IV the mildest."""
    if level not in LEVELS:
        return None
    return {"level": level, "rank": LEVELS.index(level) + 1, "most_severe_first": True,
            "en": f"Level {level} ({LEVEL_NAMES_EN[level]})",
            "zh": f"{level}级（{LEVEL_NAMES_ZH[level]}）"}


def more_severe(a: str, b: str) -> bool:
    """Whether level a is more severe than level b (I before IV)."""
    return LEVELS.index(a) < LEVELS.index(b)
