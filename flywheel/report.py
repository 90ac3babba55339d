"""The simulation's report: the table printed per round, the plot, the one JSON line."""

from __future__ import annotations

import json
from pathlib import Path

SUMMARY_KEYS = (
    "claims",
    "auto_rate",
    "auto_error",
    "auto_error_bound",
    "eval_iou",
    "minutes_per_claim",
    "time_saved",
)


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def table(start: dict | None, rounds: list[dict]) -> str:
    """A Markdown table: one row per round (and the cold-start model's evaluation first)."""
    head = (
        "| round | claims | auto | auto error (95% bound) | audited (errors) | eval damage IoU "
        "| eval type IoU | min/claim | min/reviewed claim | time saved (reviewed) "
        "| time saved (all) | promoted |"
    )
    lines = [head, "|" + "---|" * 12]
    if start:
        lines.append(
            f"| start | - | - | - | - | {start['eval_iou']:.3f} | {start['eval_type_iou']:.3f} "
            "| - | - | - | - | - |"
        )
    for r in rounds:
        lines.append(
            f"| {r['round']} | {r['claims']} | {_pct(r['auto_rate'])} "
            f"| {_pct(r['auto_error'])} ({_pct(r['auto_error_bound'])}) "
            f"| {r['audited']} ({r['audit_errors']}) | {r['eval_iou']:.3f} "
            f"| {r['eval_type_iou']:.3f} | {r['minutes_per_claim']:.2f} "
            f"| {r['minutes_per_reviewed_claim'] or 0:.2f} | {_pct(r['time_saved'])} "
            f"| {_pct(r['time_saved_with_automation'])} | {r['promoted']} |"
        )
    return "\n".join(lines)


def summary_json(rounds: list[dict]) -> str:
    """The one JSON line: ``{"rounds": [{claims, auto_rate, auto_error, ...}, ...]}``."""
    return json.dumps({"rounds": [{k: r.get(k) for k in SUMMARY_KEYS} for r in rounds]})


def plot(start: dict | None, rounds: list[dict], path: Path, title: str) -> Path:
    """Automation, its error bound, evaluation IoU and time saved by round, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["round"] for r in rounds]
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=110)
    series = [
        ("claims decided automatically", [r["auto_rate"] for r in rounds], "tab:blue", "o-"),
        (
            "auto-decision error, 95% upper bound",
            [r["auto_error_bound"] for r in rounds],
            "tab:red",
            "s--",
        ),
        ("time saved (reviewed claims)", [r["time_saved"] or 0 for r in rounds], "tab:green", "^-"),
    ]
    for label, ys, colour, style in series:
        ax.plot(xs, ys, style, color=colour, label=label)
    iou_x = ([0] if start else []) + xs
    iou_y = ([start["eval_iou"]] if start else []) + [r["eval_iou"] for r in rounds]
    ax.plot(iou_x, iou_y, "d-", color="tab:purple", label="eval damage IoU (frozen set)")
    type_y = ([start["eval_type_iou"]] if start else []) + [r["eval_type_iou"] for r in rounds]
    ax.plot(iou_x, type_y, "d:", color="tab:purple", alpha=0.7, label="eval mean type IoU")
    ax.axhline(0.02, color="tab:red", lw=0.8, alpha=0.5)
    ax.axhline(0.60, color="tab:green", lw=0.8, alpha=0.5)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("round (0 = cold-start model)")
    ax.set_xticks(iou_x)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
