"""A trace as an HTML waterfall: one row per span, failed attempts red, journal commands as ticks."""

from __future__ import annotations

import html

from tourlab._tracing.model import COMMAND_TYPE, Span, first_line, span_tree

NO_SPANS = (
    "No spans (yet): Restate exports them about 0.2 s after they end, and a scheduled invocation "
    "gets a trace only when it starts."
)

COLORS = {
    "ingress": "#7b8794",
    "invocation-start": "#3b82f6",
    "invocation-attempt": "#16a34a",
    "invocation-end": "#64748b",
}
FAILED_COLOR = "#dc2626"


def _root_target(tree: list[tuple[int, Span]]) -> str:
    return next((span.target for _depth, span in tree if span.target), "?")


def _row(span: Span, depth: int, begin: int, total: int, *, width: int, highlight: str | None) -> str:
    left = (span.start_ns - begin) / total * 100
    bar_width = max((span.end_ns - span.start_ns) / total * 100, 0.4)
    color = FAILED_COLOR if span.failed else COLORS.get(span.phase, "#a855f7")
    ticks = "".join(
        f"<div title='{html.escape(event.label, quote=True)}' style='position:absolute;"
        f"left:{(event.time_ns - begin) / total * 100:.2f}%;top:-3px;width:2px;height:16px;"
        "background:#111'></div>"
        for event in span.events
        if COMMAND_TYPE in event.attributes
    )
    label = html.escape(span.short_name)
    if highlight is not None and span.invocation_id == highlight:
        label = f"<b>{label}</b>"
    failure = (
        f"<div style='color:{FAILED_COLOR};font-size:11px;padding-left:{depth * 12 + 4}px'>"
        f"{html.escape(first_line(span.status_message)[:200])}</div>"
        if span.failed
        else ""
    )
    commands = html.escape(", ".join(span.commands))
    return (
        "<div style='display:flex;align-items:center;margin:2px 0'>"
        f"<div style='width:38%;flex:none;padding-left:{depth * 12}px;white-space:nowrap;box-sizing:border-box;"
        f"overflow:hidden;text-overflow:ellipsis' title='{html.escape(span.name, quote=True)}'>"
        f"{'&#10007; ' if span.failed else ''}{label}</div>"
        f"<div style='position:relative;flex:1 1 auto;min-width:{width}px;height:10px;background:#f1f5f9'>"
        f"<div title='{commands}' style='position:absolute;left:{left:.2f}%;width:{bar_width:.2f}%;"
        f"height:10px;background:{color};border-radius:2px'></div>{ticks}</div>"
        f"<div style='width:72px;flex:none;text-align:right;font-size:11px;color:#555'>"
        f"{span.duration_ms:.1f} ms</div></div>{failure}"
    )


def waterfall_html(spans: list[Span], *, width: int = 240, highlight: str | None = None) -> str:
    """The spans as a waterfall; those of invocation `highlight` are in bold."""
    if not spans:
        return f"<div style='font-family:sans-serif;color:#666'>{html.escape(NO_SPANS)}</div>"
    begin = min(span.start_ns for span in spans)
    total = max(max(span.end_ns for span in spans) - begin, 1)
    tree = span_tree(spans)
    rows = [_row(span, depth, begin, total, width=width, highlight=highlight) for depth, span in tree]
    attempts = [span for span in spans if span.phase == "invocation-attempt"]
    failed = sum(span.failed for span in attempts)
    service = next((span.service for span in spans if span.service), "?")
    header = (
        f"<div style='margin-bottom:4px'><b>{html.escape(_root_target(tree))}</b> &middot; "
        f"{len(spans)} spans &middot; {len(attempts)} attempts"
        f"{f' (<span style=color:{FAILED_COLOR}>{failed} failed</span>)' if failed else ''} &middot; "
        f"{total / 1e6:.1f} ms &middot; service.name={html.escape(service)}</div>"
    )
    legend = (
        "<div style='font-size:11px;color:#555;margin-top:4px'>Bars: "
        + " ".join(f"<span style='color:{color}'>&#9632;</span> {name}" for name, color in COLORS.items())
        + f" <span style='color:{FAILED_COLOR}'>&#9632;</span> failed attempt &middot; black ticks: journal "
        "commands (hover for the type)</div>"
    )
    return "<div style='font-family:monospace;font-size:12px'>" + header + "".join(rows) + legend + "</div>"
