"""SIP ladder diagrams (SVG) drawn from a capture: one column per address, one arrow per message."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from acdgate.lab.capture import SipPacket

COLUMN = 240
ROW = 26
TOP = 50
LEFT = 130
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def ladder_svg(packets: Sequence[SipPacket], names: dict[str, str] | None = None, *, title: str = "") -> str:
    """An SVG ladder: columns are the hosts (`names` labels an address, e.g. the gateway),
    arrows are messages in time order, coloured by Call-ID, with relative time on the left."""
    names = names or {}
    hosts: list[str] = []
    for p in packets:
        for h in (p.src, p.dst):
            if h not in hosts:
                hosts.append(h)
    width = LEFT + COLUMN * max(len(hosts), 2)
    height = TOP + ROW * (len(packets) + 1) + 20
    x = {h: LEFT + COLUMN * i + COLUMN // 2 for i, h in enumerate(hosts)}
    colours: dict[str, str] = {}
    t0 = packets[0].time if packets else 0.0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="monospace" font-size="12" class="ladder">']
    if title:
        out.append(f'<title>{escape(title)}</title>')
    out.append('<defs><marker id="arrow" markerWidth="10" markerHeight="7" refX="10" refY="3.5" orient="auto">'
               '<polygon points="0 0, 10 3.5, 0 7"/></marker></defs>')
    for h in hosts:
        label = names.get(h.rsplit(":", 1)[0], names.get(h, ""))
        out.append(f'<text x="{x[h]}" y="18" text-anchor="middle" font-weight="bold">{escape(label or h)}</text>')
        if label:
            out.append(f'<text x="{x[h]}" y="32" text-anchor="middle" fill="#666">{escape(h)}</text>')
        out.append(f'<line x1="{x[h]}" y1="{TOP - 10}" x2="{x[h]}" y2="{height - 10}" stroke="#999" stroke-dasharray="4 3"/>')
    for i, p in enumerate(packets):
        y = TOP + ROW * (i + 1)
        colour = colours.setdefault(p.call_id, _PALETTE[len(colours) % len(_PALETTE)])
        x1, x2 = x[p.src], x[p.dst]
        out.append(f'<text x="4" y="{y + 4}" fill="#666">+{p.time - t0:8.3f}s</text>')
        out.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" stroke-width="1.5" '
                   f'marker-end="url(#arrow)"><title>{escape(p.first_line)} | Call-ID {escape(p.call_id)} | '
                   f'CSeq {escape(p.cseq)} | {p.transport}</title></line>')
        out.append(f'<text x="{(x1 + x2) // 2}" y="{y - 4}" text-anchor="middle" fill="{colour}">'
                   f'{escape(p.label)}</text>')
    if not packets:
        out.append(f'<text x="{LEFT}" y="{TOP + ROW}">no SIP messages captured</text>')
    out.append("</svg>")
    return "\n".join(out)
