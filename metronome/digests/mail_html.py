"""The HTML part of a digest (pure), made for mail clients rather than browsers: layout tables
and inline styles (many clients drop ``<style>``), no external resource (the charts are inline
images, ``cid:``), a 640 px column that shrinks to a phone's width, KPI cards that wrap.

Colours are the app's. Clients that honour ``prefers-color-scheme`` switch to the app's dark
palette through the classes of the ``<style>`` block; clients that invert colours by themselves
get a light design without background images, and the chart images sit on their own white card,
so they stay readable either way.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from metronome.dashboards.definition import Widget
from metronome.digests.content import (
    SCHEDULE_NAMES,
    WIDE_CHARTS,
    DigestInput,
    TopList,
    chart_widgets,
    compare_label,
    inline_id,
    kpis,
    period_label,
    png_size,
    source_lines,
    subject,
    title_of,
    top_lists,
    when,
)

LIGHT = {
    "bg": "#f6f7f9", "surface": "#ffffff", "surface2": "#f1f3f6", "border": "#e3e6eb",
    "text": "#1b2130", "muted": "#5f6878", "accent": "#4f46e5", "up": "#15803d",
    "down": "#c2410c", "bad": "#b91c1c",
}  # fmt: skip
DARK = {
    "bg": "#0f1420", "surface": "#181f2e", "surface2": "#212a3b", "border": "#2a3446",
    "text": "#e7eaf0", "muted": "#9aa4b5", "accent": "#818cf8", "up": "#4ade80",
    "down": "#fb923c", "bad": "#f87171",
}  # fmt: skip
# Each colour role is also a class (m-text, m-muted...) that the dark scheme overrides.
CLASS_OF = {
    "text": "color", "muted": "color", "accent": "color", "up": "color", "down": "color",
    "bad": "color",
}  # fmt: skip
FONT = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
ARROWS = {"up": "\u25b2", "down": "\u25bc", "flat": "\u25a0", "none": ""}
CHART_WIDTH = 576  # the column less its padding
NARROW_WIDTH = 284  # two charts side by side in the column
SOURCE_STATE = {"ok": ("up", "OK"), "failing": ("bad", "Failing"), "stale": ("down", "Stale")}
ALERT_BAD = ("firing", "fired", "pending")


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def css(**rules: str) -> str:
    """``font_size="13px"`` -> ``font-size:13px``."""
    return ";".join(f"{name.replace('_', '-')}:{value}" for name, value in rules.items())


def tag(name: str, content: str, *, cls: str = "", style: str = "", **attrs: str) -> str:
    """An element; ``content`` is HTML already."""
    extra = "".join(f' {key.rstrip("_")}="{_e(value)}"' for key, value in attrs.items())
    if cls:
        extra += f' class="{cls}"'
    if style:
        extra += f' style="{style}"'
    return f"<{name}{extra}>{content}</{name}>"


def colored(role: str, content: str, **rules: str) -> str:
    """A span in a colour role of the palette (switched by the dark scheme)."""
    return tag("span", content, cls=f"m-{role}", style=css(color=LIGHT[role], **rules))


def _dark_css() -> str:
    d = DARK
    rules = [
        f".m-bg{{background:{d['bg']}!important}}",
        f".m-card{{background:{d['surface']}!important;border-color:{d['border']}!important}}",
        f".m-soft{{background:{d['surface2']}!important}}",
        f".m-line{{border-color:{d['border']}!important}}",
        *(f".m-{role}{{color:{d[role]}!important}}" for role in CLASS_OF),
    ]
    return "@media (prefers-color-scheme:dark){" + "".join(rules) + "}"


def _head(title: str) -> str:
    phone = (
        "@media (max-width:480px){.m-kpi{width:46%!important;margin-right:3%!important}"
        ".m-chart{width:100%!important;margin-right:0!important}"
        ".m-pad{padding-left:14px!important;padding-right:14px!important}}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        '<meta name="supported-color-schemes" content="light dark">'
        f"<title>{_e(title)}</title>"
        f"<style>:root{{color-scheme:light dark}}{_dark_css()}{phone}</style></head>"
    )


def _layout_table(content: str, *, cls: str, style: str, width: str = "100%") -> str:
    return (
        f'<table role="presentation" class="{cls}" width="{width}" cellpadding="0" '
        f'cellspacing="0" border="0" style="{style}">{content}</table>'
    )


def render_html(digest: DigestInput) -> str:
    c = LIGHT
    charts = chart_widgets(digest.dashboard, digest.charts)
    rows = [
        _header(digest),
        _kpis(digest),
        _wide_charts(digest, [w for w in charts if w.type in WIDE_CHARTS]),
        *(_top(top) for top in top_lists(digest.dashboard, digest.data)),
        _narrow_charts(digest, [w for w in charts if w.type not in WIDE_CHARTS]),
        _sources(digest),
        _alerts(digest),
        _footer(digest),
    ]
    card = _layout_table(
        "".join(rows),
        cls="m-card",
        style=css(
            max_width="640px", background=c["surface"], border=f"1px solid {c['border']}",
            border_radius="10px",
        ),
    )  # fmt: skip
    page = _layout_table(
        f'<tr><td align="center" style="padding:16px 8px">{card}</td></tr>',
        cls="m-bg",
        style=css(background=c["bg"], font_family=FONT),
    )
    # The preview line that mail clients show after the subject.
    preview = tag("div", _e(_preview(digest)), style="display:none;max-height:0;overflow:hidden")
    body = tag("body", preview + page, cls="m-bg", style=css(margin="0", padding="0",
               background=c["bg"]))  # fmt: skip
    return _head(subject(digest)) + body + "</html>\n"


def _preview(digest: DigestInput) -> str:
    shown = [
        f"{k.title} {k.text}" + (f" ({k.note})" if k.note else "")
        for k in kpis(digest.dashboard, digest.data)[:3]
    ]
    return "; ".join(shown) or period_label(digest.period, digest.tz)


def _row(content: str, padding: str = "16px 24px 4px 24px") -> str:
    return f'<tr><td class="m-pad" style="padding:{padding}">{content}</td></tr>'


def _header(digest: DigestInput) -> str:
    c = LIGHT
    compared = compare_label(digest)
    kicker = tag(
        "div",
        f"{_e(SCHEDULE_NAMES[digest.schedule])} digest \u00b7 site {_e(digest.site)}",
        cls="m-accent",
        style=css(color=c["accent"], font_size="12px", font_weight="600",
                  letter_spacing="0.04em", text_transform="uppercase"),
    )  # fmt: skip
    title = tag(
        "h1",
        _e(digest.dashboard.title),
        cls="m-text",
        style=css(margin="4px 0 2px 0", font_size="22px", line_height="1.3", color=c["text"]),
    )
    period = tag(
        "div",
        _e(period_label(digest.period, digest.tz)),
        cls="m-text",
        style=css(font_size="15px", color=c["text"]),
    )
    zone = _e(digest.tz.key) + (f" \u00b7 compared with {_e(compared)}" if compared else "")
    note = tag("div", zone, cls="m-muted", style=css(font_size="13px", color=c["muted"],
               margin_top="2px"))  # fmt: skip
    button = ""
    if digest.link:
        link = tag(
            "a",
            "Open the dashboard",
            href=digest.link,
            style=css(display="inline-block", padding="7px 14px", border_radius="6px",
                      background=c["accent"], color="#ffffff", font_size="14px",
                      font_weight="600", text_decoration="none"),
        )  # fmt: skip
        button = tag("div", link, style="margin-top:12px")
    return _row(kicker + title + period + note + button, "20px 24px 8px 24px")


def _section(title: str, body: str) -> str:
    heading = tag(
        "h2",
        _e(title),
        cls="m-text",
        style=css(margin="0 0 8px 0", font_size="16px", color=LIGHT["text"]),
    )
    return _row(heading + body)


def _muted(text: str) -> str:
    return tag("div", _e(text), cls="m-muted", style=css(font_size="14px", color=LIGHT["muted"]))


def _role(direction: str) -> str:
    return {"up": "up", "down": "down"}.get(direction, "muted")


def _kpis(digest: DigestInput) -> str:
    numbers = kpis(digest.dashboard, digest.data)
    if not numbers:
        return ""
    c = LIGHT
    cards = []
    for kpi in numbers:
        label = tag(
            "div",
            _e(kpi.title),
            cls="m-muted",
            style=css(font_size="12px", line_height="16px", height="32px", overflow="hidden",
                      color=c["muted"]),
        )  # fmt: skip
        value = tag(
            "div",
            _e(kpi.text),
            cls="m-text",
            style=css(font_size="24px", font_weight="700", color=c["text"], line_height="1.3"),
        )
        note = ""
        if kpi.note:
            arrow = ARROWS.get(kpi.direction, "")
            text = f"{arrow} <strong>{_e(kpi.note)}</strong>" if arrow else _e(kpi.note)
            note = tag("div", colored(_role(kpi.direction), text), style=css(font_size="13px",
                       white_space="nowrap"))  # fmt: skip
        inner = tag(
            "div",
            label + value + note,
            cls="m-soft",
            style=css(background=c["surface2"], border_radius="8px", padding="10px 12px"),
        )
        cards.append(
            tag("div", inner, cls="m-kpi", style=css(display="inline-block",
                vertical_align="top", width="140px", margin="0 8px 8px 0"))
        )  # fmt: skip
    return _row("".join(cards), "12px 16px 4px 24px")


def _image(digest: DigestInput, widget: Widget, most: int) -> str:
    """A chart's image at its own width (at most ``most`` px), shrinking with the screen. The
    image is the widget's card, title included, on a white ground that dark clients keep."""
    data = digest.charts[widget.id]
    width, height = png_size(data) or (most, 0)
    shown = min(width, most)
    size = f' width="{shown}"' + (f' height="{height * shown // width}"' if height else "")
    return (
        f'<img src="cid:{_e(inline_id(digest, widget.id))}" alt="{_e(title_of(widget))}"'
        f'{size} style="display:block;width:100%;max-width:{shown}px;height:auto;border:0;'
        f'border-radius:8px;background:#ffffff">'
    )


def _wide_charts(digest: DigestInput, widgets: Sequence[Widget]) -> str:
    return "".join(_row(_image(digest, widget, CHART_WIDTH)) for widget in widgets)


def _narrow_charts(digest: DigestInput, widgets: Sequence[Widget]) -> str:
    """Charts two by two (one under the other on a phone)."""
    if not widgets:
        return ""
    cells = "".join(
        tag(
            "div",
            _image(digest, widget, NARROW_WIDTH),
            cls="m-chart",
            style=css(
                display="inline-block",
                vertical_align="top",
                width=f"{NARROW_WIDTH}px",
                max_width="100%",
                margin="0 8px 8px 0",
            ),
        )
        for widget in widgets
    )
    return _row(cells, "16px 16px 0 24px")


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int) -> str:
    """Columns from ``numeric_from`` on are numbers: right-aligned, never wrapped. The cells
    are HTML already."""
    c = LIGHT
    line = f"1px solid {c['border']}"
    head = "".join(
        tag(
            "th",
            _e(name),
            cls="m-muted m-line",
            align="right" if i >= numeric_from else "left",
            style=css(
                padding="4px 6px",
                font_size="12px",
                font_weight="600",
                color=c["muted"],
                border_bottom=line,
            ),
        )
        for i, name in enumerate(columns)
    )
    body = "".join(
        "<tr>"
        + "".join(
            tag(
                "td",
                value,
                cls="m-text m-line",
                align="right" if i >= numeric_from else "left",
                valign="top",
                style=css(
                    padding="6px",
                    font_size="14px",
                    color=c["text"],
                    border_bottom=line,
                    white_space="nowrap" if i >= numeric_from else "normal",
                    word_break="normal" if i >= numeric_from else "break-word",
                ),
            )
            for i, value in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'style="border-collapse:collapse;table-layout:auto"><tr>{head}</tr>{body}</table>'
    )


def _top(top: TopList) -> str:
    if not top.rows:
        return _section(top.title, _muted("No data in this period."))
    has_change = any(text for text, _ in top.changes)
    columns = [*top.columns, *(["Change"] if has_change else [])]
    rows = []
    for row, (text, direction) in zip(top.rows, top.changes, strict=True):
        cells = [_e(value) for value in row]
        if has_change:
            cells.append(colored(_role(direction), _e(text)))
        rows.append(cells)
    return _section(top.title, _table(columns, rows, top.labels))


def _sources(digest: DigestInput) -> str:
    sources = source_lines(digest.sources, digest.site, digest.tz)
    if not sources:
        return _section("Sources", _muted("No scheduled sources for this site."))
    rows = []
    for source in sources:
        role, label = SOURCE_STATE[source.state]
        detail = _e(source.type) + (f" \u00b7 {_e(source.error)}" if source.error else "")
        name = _e(source.name) + "<br>" + colored("muted", detail, font_size="12px")
        rows.append([name, colored(role, _e(label), font_weight="600"), _e(source.last_success)])
    return _section("Sources", _table(["Source", "State", "Last success"], rows, 1))


def _alerts(digest: DigestInput) -> str:
    if not digest.alerts:
        return _section("Alerts", _muted("No alert fired or resolved in this period."))
    rows = []
    for alert in digest.alerts:
        role = "bad" if alert.state in ALERT_BAD else "up"
        what = f"<strong>{_e(alert.rule)}</strong><br>" + colored(
            "muted", _e(alert.summary), font_size="12px"
        )
        state = colored(role, _e(alert.state), font_weight="600")
        rows.append([what, state, _e(when(alert.at, digest.tz))])
    return _section("Alerts", _table(["Rule", "State", "When"], rows, 1))


def _footer(digest: DigestInput) -> str:
    attached = [f.filename for f in digest.files if f.inline_id is None]
    lines = [f"Attached: {', '.join(attached)}."] if attached else []
    made = when(digest.generated_at, digest.tz)
    lines.append(f"Digest \u201c{digest.name}\u201d of Metronome, made {made} {digest.tz.key}.")
    text = tag(
        "div",
        "<br>".join(_e(line) for line in lines),
        cls="m-muted",
        style=css(font_size="12px", color=LIGHT["muted"], line_height="1.5"),
    )
    return _row(text, "16px 24px 20px 24px")
