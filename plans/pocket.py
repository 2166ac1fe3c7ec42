"""Pocket cards: a QR code as SVG and a printable A6 page per key post."""

from __future__ import annotations

from html import escape

import qrcode
import qrcode.constants
import qrcode.image.svg

from plans.schema import AssemblyPoint, PocketCard


def pocket_card_qr_svg(url: str) -> str:
    """An SVG QR code (error correction M) linking to url."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10,
                       border=2, image_factory=qrcode.image.svg.SvgPathImage)
    qr.add_data(url)
    qr.make(fit=True)
    return str(qr.make_image().to_string(encoding="unicode"))


def pocket_card_html(card: PocketCard, *, title: str, url: str,
                     assembly_point: AssemblyPoint | None = None, lang: str = "zh-CN") -> str:
    """A self-contained A6 page for one card, with a QR code linking to url."""
    steps = "".join(f"<li>{escape(s)}</li>" for s in card.steps)
    calls = "".join(f"<tr><td>{escape(c.name)}</td><td class=phone>{escape(c.phone)}</td></tr>"
                    for c in card.call)
    where = ""
    if assembly_point is not None:
        where = f" ({assembly_point.lat:.5f}, {assembly_point.lon:.5f})"
    return f"""<!doctype html>
<html lang="{escape(lang)}"><head><meta charset="utf-8">
<title>{escape(title)} · {escape(card.post)}</title>
<style>
@page {{ size: A6; margin: 6mm; }}
body {{ font: 9pt/1.35 sans-serif; margin: 0; }}
h1 {{ font-size: 11pt; margin: 0 0 1mm; }}
h2 {{ font-size: 9.5pt; margin: 2mm 0 1mm; }}
ol {{ margin: 0; padding-left: 5mm; }}
table {{ border-collapse: collapse; }}
td {{ padding: 0 2mm 0 0; }}
.phone {{ font-weight: bold; }}
.qr {{ float: right; width: 24mm; height: 24mm; }}
.qr svg {{ width: 100%; height: 100%; }}
</style></head><body>
<div class="qr">{pocket_card_qr_svg(url)}</div>
<h1>{escape(card.post)}</h1>
<div>{escape(title)}</div>
<h2>处置步骤 / Steps</h2><ol>{steps}</ol>
<h2>联系电话 / Call</h2><table>{calls}</table>
<h2>撤离路线 / Escape route</h2><div>{escape(card.escape_route)}</div>
<h2>集合点 / Assembly point</h2><div>{escape(card.assembly_point)}{where}</div>
</body></html>
"""
