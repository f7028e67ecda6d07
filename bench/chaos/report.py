"""A scenario's result as one summary line, one markdown table row, and a JSON record."""

from common import fmt_ms, kinds, percentile


def _lat(r, p):
    v = percentile(r.stats.latencies, p) if r.stats else None
    return fmt_ms(v) if v is not None else "-"


def _rss(r):
    if not r.rss or r.rss[1] is None:
        return "-"
    return f"{r.rss[0] / 1024:.1f}→{r.rss[1] / 1024:.1f} MiB"


def _failed(r):
    n = sum(r.stats.failed.values())
    return f"{n:,}" + (f" ({kinds(r.stats.failed)})" if n else "")


def _lost(r):
    n = sum(r.stats.lost.values())
    if not r.lost_label:
        return "-"
    return f"{n:,}" + (f" ({kinds(r.stats.lost)})" if n else "")


def line(r):
    s = r.stats
    parts = [f"{r.name:<13}", f"requests {s.requests:>7,} ({s.posts:,} POST)", f"ok {s.ok:>7,}",
             f"failed {_failed(r)}"]
    if r.lost_label:
        parts.append(f"{r.lost_label} {_lost(r)}")
    parts += [f"p50 {_lat(r, 50)}", f"p99 {_lat(r, 99)}"]
    if r.rss and r.rss[1] is not None:
        parts.append(f"RSS {_rss(r)}")
    if r.fds and r.fds[1] is not None:
        parts.append(f"fds {r.fds[0]}→{r.fds[1]}")
    parts.append(f"listen queue {_backlog(r)}")
    parts += r.events
    verdict = r.verdict + (": " + "; ".join(r.problems) if r.problems else "")
    return " | ".join(parts) + " | " + verdict


def _backlog(r):
    if not r.backlog:
        return "-"
    return f"{sum(r.backlog) / len(r.backlog):.1f} avg, {max(r.backlog)} max"


HEADER = ("| scenario | requests | ok | failed (by kind) | lost with the struck worker | p50 | p99 "
          "| listen queue | RSS start→end | what happened | verdict |\n"
          "|---|---:|---:|---|---|---:|---:|---|---|---|---|")


def row(r):
    s = r.stats
    verdict = f"**{r.verdict}**" + (": " + "; ".join(r.problems) if r.problems else "")
    return (f"| {r.name} | {s.requests:,} | {s.ok:,} | {_failed(r)} | {_lost(r)} | {_lat(r, 50)} "
            f"| {_lat(r, 99)} | {_backlog(r)} | {_rss(r)} | {'; '.join(r.events)} | {verdict} |")


def record(r):
    s = r.stats
    return {
        "scenario": r.name,
        "requests": s.requests,
        "posts": s.posts,
        "ok": s.ok,
        "failed": dict(s.failed),
        "lost": dict(s.lost),
        "lost_label": r.lost_label,
        "failure_examples": s.examples,
        "p50_ms": (percentile(s.latencies, 50) or 0) * 1000,
        "p99_ms": (percentile(s.latencies, 99) or 0) * 1000,
        "max_ms": (max(s.latencies) if s.latencies else 0) * 1000,
        "rss_kib": r.rss,
        "worker_fds": r.fds,
        "listen_queue_samples": r.backlog,
        "events": r.events,
        "problems": r.problems,
        "notes": r.notes,
        "graceful_stop_s": getattr(r, "stop_seconds", None),
        "verdict": r.verdict,
        **r.data,
    }
