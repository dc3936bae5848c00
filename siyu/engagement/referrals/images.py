"""The QR code of an invite link, drawn on the server as SVG (no third-party request from a fan's phone)."""

from __future__ import annotations

import io

import segno


def qr_svg(link: str) -> bytes:
    out = io.BytesIO()
    segno.make_qr(link, error="m").save(
        out, kind="svg", scale=6, border=2, xmldecl=False, svgns=True, title="邀请二维码"
    )
    return out.getvalue()


def invite_path(slug: str, code: str) -> str:
    """The path a friend opens: the member center's home, carrying the code into her sign-in."""
    return f"/h5/{slug}/?invite={code}"
