"""The one renderer: results on stdout (a table or summary, or exactly one JSON document), messages on stderr;
`--output`, declared here once; and how each kind of result reads for people.

What is printed for people holds no control characters but newline and tab: a release's title or notes,
or any other text from the server, can't clear the screen, move the cursor or retitle the terminal.
JSON is printed exact (its escaping already keeps control characters out of the terminal)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import click

from relman.words import describe_gates, describe_rule, describe_windows, still_needed

MODE = {"output": "text"}
"""`text`, `json` or `yaml`, set by `--output` (or RELMAN_OUTPUT, or the profile)."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1


FORMATS = ("text", "json", "yaml")


def is_json() -> bool:
    """The result is a document for a program (JSON or YAML), not text for people."""
    return MODE["output"] in ("json", "yaml")


def _set_output(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value:
        MODE["output"] = value
    return value


def option(envvar: str | None = None) -> click.Option:
    """`--output/-o text|json`, for `relman` itself (which reads RELMAN_OUTPUT) and every command."""
    return click.Option(
        ["--output", "-o"],
        envvar=envvar,
        type=click.Choice(FORMATS),
        callback=_set_output,
        expose_value=False,
        is_eager=True,
        help="text (for people), or json or yaml (exactly one document on stdout). [env: RELMAN_OUTPUT]",
    )


def say(message: str) -> None:
    """A message for the person or the log: always stderr, so stdout stays the result."""
    print(printable(message, keep="\n\t"), file=sys.stderr, flush=True)


def result(document: Any, render: Callable[[Any], str] | None = None) -> None:
    """The command's result: the document as is (JSON or YAML), or its rendering for people."""
    if MODE["output"] == "yaml":
        import yaml

        plain = json.loads(json.dumps(document, default=str))  # what JSON would say, as YAML
        sys.stdout.write(yaml.safe_dump(plain, sort_keys=False, allow_unicode=True))
    elif is_json():
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    else:
        text = render(document) if render is not None else json.dumps(document, indent=2, default=str)
        if text:
            sys.stdout.write(printable(text, keep="\n\t").rstrip("\n") + "\n")
    sys.stdout.flush()


def table(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    """Aligned columns with a header; empty cells as `-`."""
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    if not cells:
        return "(none)"
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in cells]
    return "\n".join(lines)


def summary(pairs: Sequence[tuple[str, Any]]) -> str:
    """`label: value` lines, labels aligned, empty values left out."""
    shown = [(label, _cell(value)) for label, value in pairs if value not in (None, "", [], {})]
    width = max((len(label) for label, _ in shown), default=0)
    return "\n".join(f"{label + ':':<{width + 1}} {value}" for label, value in shown)


def block(label: str, text: str) -> str:
    """Multi-line text (release notes) under its label, each line indented; newlines and tabs kept."""
    lines = printable(text, keep="\n\t").splitlines() or [""]
    return f"{label}:\n" + "\n".join(f"  {line}".rstrip() for line in lines)


def printable(text: str, keep: str = "") -> str:
    """`text` without its control characters (C0, DEL, C1) but those in `keep`."""
    return _CONTROL.sub(lambda found: found[0] if found[0] in keep else "", text)


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return printable(str(value))  # one line: a newline would make a row of its own


# -- how each result reads for people ---------------------------------------------------------------


def render_me(m: dict[str, Any]) -> str:
    token = m.get("token") or {}
    return summary(
        [
            ("email", m.get("email")),
            ("name", m.get("display_name")),
            ("role", token.get("role") or m.get("role")),
            ("signed in with", token.get("kind") or "a login session"),
            ("expires", token.get("expires_at")),
        ]
    )


def render_release(r: dict[str, Any]) -> str:
    source = r.get("source") or {}
    lines = summary(
        [
            ("release", f"{r.get('application')}@{r.get('version')}"),
            ("id", r.get("id")),
            ("title", r.get("title")),
            ("status", f"{r.get('status')}" + (f" ({r['cancel_reason']})" if r.get("cancel_reason") else "")),
            ("commit", " ".join(x for x in (source.get("repository"), source.get("commit_sha")) if x)),
            ("branch", source.get("branch")),
            ("committed", source.get("committed_at")),
            ("artifacts", ", ".join(f"{a['name']}={a['uri']}" for a in r.get("artifacts") or [])),
            ("created", f"{r.get('created_at')} by {r.get('created_by_name') or r.get('created_by')}"),
        ]
    )
    deployments = r.get("deployments") or {}
    if deployments:
        rows = [{"environment": name, **latest} for name, latest in deployments.items()]
        lines += "\n\n" + table(rows, ["environment", "status", "kind", "live", "finished_at", "deployment_id"])
    if r.get("notes"):
        lines += "\n\n" + block("notes", r["notes"])
    return lines


def render_releases(d: dict[str, Any]) -> str:
    return table(d["items"], ["application", "version", "status", "title", "id"])


def render_deployment(d: dict[str, Any]) -> str:
    return summary(
        [
            ("deployment", f"{d.get('release_id')}/{d.get('id')}"),
            ("release", f"{d.get('application')}@{d.get('version')}"),
            ("environment", d.get("environment")),
            ("kind", d.get("kind")),
            ("status", d.get("status")),
            ("requested by", d.get("requested_by_name") or d.get("requested_by")),
            (
                "approvals",
                ", ".join(f"{a['decision']} by {a.get('user_name') or a['user_id']}" for a in d.get("approvals") or []),
            ),
            ("still needed", still_needed(d.get("approval_rules") or [])),
            ("skipped", ", ".join(d.get("skipped_stages") or [])),
            ("log", d.get("log_url")),
            ("message", d.get("message")),
        ]
    )


def _person(approval: dict[str, Any]) -> str:
    return str(approval.get("user_name") or approval["user_id"])


def render_verdict(a: dict[str, Any]) -> str:
    verdict = "allowed" if a["allowed"] else "blocked"
    first = f"{verdict}" + (" (needs approval)" if a.get("needs_approval") else "")
    teams = a.get("approver_teams") or []
    rest = summary(
        [
            ("approvals", ", ".join(describe_rule(rule) for rule in a.get("approval_rules") or [])),
            ("approvers in", " and ".join(f"the team {team}" for team in teams)),
            ("deploy windows", describe_windows(a.get("policy"))),
        ]
    )
    return first + ("\n" + rest if rest else "")


def print_gates(gates: list[dict[str, Any]]) -> None:
    say(f"relman: blocked by {len(gates)} gate{'s' if len(gates) != 1 else ''}:")
    for gate in gates:
        say(f"  {gate.get('code')}: {gate.get('detail') or gate.get('message') or ''}")


def render_overview(o: dict[str, Any]) -> str:
    def cell(entry: dict[str, Any] | None) -> str | None:
        if not entry:
            return None
        return str(entry["version"]) + (" (rollback)" if entry.get("kind") == "rollback" else "")

    rows = []
    stages, policies = o.get("stages") or {}, o.get("policies") or {}
    for name, stage in o["environments"].items():
        moving = stage.get("in_progress")
        under_way = f"{moving['version']} {moving['status']}" if moving else None
        rows.append(
            {
                "environment": name,
                "live": cell(stage.get("live")),
                "previous": cell(stage.get("previous")),
                "under way": under_way,
                "gates": describe_gates(stages.get(name), policies.get(name)) if "stages" in o else None,
            }
        )
    return table(rows, ["environment", "live", "previous", "under way"] + (["gates"] if "stages" in o else []))


def render_compare(c: dict[str, Any]) -> str:
    base, head = c.get("base"), c["head"]
    against = f"{c['application']}@{base['version']}" if base else "nothing live"
    way = {"forward": "brings", "backward": "takes back (a rollback)", "same": "changes nothing"}[c["direction"]]
    lines = [f"From {against} to {c['application']}@{head['version']}: {way}" + (":" if c["releases"] else ".")]
    if c["releases"]:
        lines.append(table(c["releases"], ["version", "title", "status", "commit_sha"]))
    if c.get("commit_range"):
        lines.append(f"commits: {c['commit_range']}" + (f"\n{c['compare_url']}" if c.get("compare_url") else ""))
    return "\n".join(lines)


def render_timeline(t: dict[str, Any]) -> str:
    rows = [
        {
            "when": str(e["occurred_at"])[:19].replace("T", " "),
            "kind": e["kind"],
            "what": e["action"].split(".", 1)[1] + (f" → {e['data']['to']}" if e["data"].get("to") else ""),
            "application": e["application"] or "(all)",
            "env": e["environment"],
            "version": e["version"],
            "who": e["actor_name"] or e["actor"],
        }
        for e in t["items"]
    ]
    return (
        table(rows, ["when", "kind", "what", "application", "env", "version", "who"])
        if rows
        else "Nothing changed then."
    )


def render_metrics(m: dict[str, Any]) -> str:
    f, lead = m["deployment_frequency"], m["lead_time_for_changes"]
    cfr, ttr, rw = m["change_failure_rate"], m["time_to_restore"], m["rework_rate"]
    return summary(
        [
            (
                "window",
                f"{m['days']} days in {m['environment']}" + (f" for {m['application']}" if m["application"] else ""),
            ),
            ("deployment frequency", f"{f['per_day']:.2f}/day ({f['deployments']} deployments)"),
            ("lead time (p50/p90)", f"{lead['p50_hours']} h / {lead['p90_hours']} h"),
            ("change failure rate", f"{cfr['rate']} ({cfr['failures']} of {cfr['deployments']})"),
            ("time to restore (p50)", f"{ttr['p50_hours']} h ({ttr['restores']} of {ttr['failures']} restored)"),
            ("rework rate", f"{rw['rate']} ({rw['rework']} of {rw['deployments']})"),
        ]
    )


def render_freezes(d: dict[str, Any]) -> str:
    rows = []
    for f in d["items"]:
        when = (
            "; ".join(f"{w['day']} {w['start']}-{w['end']}" for w in f["weekly"]) + f" {f.get('timezone')}"
            if f.get("weekly")
            else f"{f.get('starts_at')} → {f.get('ends_at')}"
        )
        rows.append(f | {"environment": f.get("environment") or "(all)", "when": when})
    return table(rows, ["id", "environment", "when", "active", "reason"])


def render_locks(d: dict[str, Any]) -> str:
    rows = []
    for lock in d["items"]:
        who = lock.get("locked_by") or {}
        ended = f"unlocked {lock['unlocked_at']}" if lock.get("unlocked_at") else ""
        shown = {
            "application": lock.get("application") or "(all)",
            "by": who.get("display_name") or who.get("email") or who.get("id"),
            "since": lock.get("locked_at"),
            "until": lock.get("unlock_at") or ended,
        }
        rows.append(lock | shown)
    return table(rows, ["environment", "application", "by", "since", "until", "active", "reason"])


def render_nothing(_: Any) -> str:
    """For a result that has nothing to show people (a deletion: its message said it)."""
    return ""
