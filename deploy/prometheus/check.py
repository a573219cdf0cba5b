#!/usr/bin/python3
"""Checks deploy/prometheus/: alerts.yml is a valid rules file (groups of
rules, each with alert, expr, labels.severity, annotations.summary, a
`for` that is a duration) and dashboard.json a Grafana dashboard whose
panels have targets; every metric their expressions name is one qf
exports (the family table in common/service/metrics.c; histogram
_bucket/_sum/_count included) or Prometheus' `up`, so a renamed metric
cannot leave a silent alert. promtool, where installed, checks the rules
too. Exits 1 on any problem."""
import json, pathlib, re, shutil, subprocess, sys
import yaml

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
problems = []


def families():
    text = (REPO / "common/service/metrics.c").read_text()
    found = dict(re.findall(r'\{"(qf_[a-z_]+)", M_(COUNTER|GAUGE|HISTOGRAM)', text))
    if not found:
        problems.append("common/service/metrics.c: no metric table found")
    names = {"up"}
    for name, kind in found.items():
        names.add(name)
        if kind == "HISTOGRAM":
            names.update(name + s for s in ("_bucket", "_sum", "_count"))
    return names


FUNCS = {"rate", "increase", "sum", "by", "histogram_quantile", "le", "max",
         "min", "avg", "count", "without", "on", "and", "or", "unless"}


def metrics_in(expr):
    expr = re.sub(r'"[^"]*"', '""', expr)          # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)          # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)         # ranges
    expr = re.sub(r"\bby\s*\([^)]*\)", "", expr)   # grouping labels
    return {w for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr)
            if w not in FUNCS and not re.fullmatch(r"\d+(\.\d+)?", w)}


def check_expr(where, expr, known):
    if not isinstance(expr, str) or not expr.strip():
        problems.append(f"{where}: no expr")
        return
    for m in sorted(metrics_in(expr) - known):
        problems.append(f"{where}: {m} is not a metric qf exports")


def main():
    known = families()
    rules = yaml.safe_load((HERE / "alerts.yml").read_text())
    count = 0
    for g in rules.get("groups") or []:
        for r in g.get("rules") or []:
            where = f"alerts.yml: {r.get('alert', '?')}"
            count += 1
            check_expr(where, r.get("expr"), known)
            if not (r.get("labels") or {}).get("severity"):
                problems.append(f"{where}: no labels.severity")
            if not (r.get("annotations") or {}).get("summary"):
                problems.append(f"{where}: no annotations.summary")
            if "for" in r and not re.fullmatch(r"\d+[smhd]", str(r["for"])):
                problems.append(f"{where}: for {r['for']!r} is not a duration")
    if count == 0:
        problems.append("alerts.yml: no rules")
    board = json.loads((HERE / "dashboard.json").read_text())
    panels = board.get("panels") or []
    if not board.get("title") or not panels:
        problems.append("dashboard.json: no title or panels")
    for p in panels:
        targets = p.get("targets") or []
        if not targets:
            problems.append(f"dashboard.json: panel {p.get('title')} has no targets")
        for t in targets:
            check_expr(f"dashboard.json: {p.get('title')}", t.get("expr"), known)
    if shutil.which("promtool"):
        r = subprocess.run(["promtool", "check", "rules", str(HERE / "alerts.yml")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            problems.append("promtool: " + (r.stdout + r.stderr).strip())
    for p in problems:
        print("deploy/prometheus: " + p, file=sys.stderr)
    if problems:
        return 1
    print(f"deploy/prometheus: {count} alert rules and {len(panels)} panels "
          f"name only metrics qf exports")
    return 0


sys.exit(main())
