#!/usr/bin/python3
"""Checks the CI snippets: valid YAML with the expected shape, the job
script passes `bash -n`, uses `qf submit --wait` with --junit-out and
--evidence-out, a stable message id (no per-attempt/per-job id, with a
hash keyed by QF_ID_SECRET so that nobody can take it first), no
--workspace (the pipeline's commit is the source) and QF_AMQP_URL from
the CI's secret store; GitLab's test report is the JUnit file. Run with a
fake `qf` that answers each exit code of `qf submit --wait` (with and
without output), the job shows what qf printed, exits with that code
(0 passes; 1 FAIL, 2 NEED_HITL, 3, 65 fail the job) and never prints a
traceback. Needs python3-yaml and bash. Exits 1 on any problem."""
import json, os, pathlib, re, subprocess, sys, tempfile
import yaml

HERE = pathlib.Path(__file__).resolve().parent
problems = []


def scripts():
    gh = yaml.safe_load((HERE / "github-actions.yml").read_text())
    on = gh.get("on", gh.get(True))  # YAML 1.1 reads the key `on` as true
    if not on:
        problems.append("github-actions.yml: no `on:` triggers")
    job = (gh.get("jobs") or {}).get("quality-gate") or {}
    for var in ("QF_AMQP_URL", "QF_ID_SECRET"):
        if "${{ secrets.%s }}" % var != (job.get("env") or {}).get(var):
            problems.append(f"github-actions.yml: {var} must come from secrets.{var}")
    steps = [s for s in job.get("steps") or [] if "qf submit" in (s.get("run") or "")]
    if len(steps) != 1:
        problems.append("github-actions.yml: expected one step running qf submit")
    else:
        yield "github-actions.yml", steps[0]["run"], {
            "GITHUB_REPOSITORY": "acme/shop", "GITHUB_SHA": "abc", "GITHUB_RUN_ID": "42",
            "GITHUB_JOB": "quality-gate", "GITHUB_ACTOR": "alice"}, r"GITHUB_RUN_ID"
    gl = yaml.safe_load((HERE / "gitlab-ci.yml").read_text())
    job = gl.get("qualityfoundry") or {}
    if "QF_AMQP_URL" in json.dumps(gl.get("variables") or {}) or "QF_AMQP_URL:" in json.dumps(job):
        problems.append("gitlab-ci.yml: QF_AMQP_URL must come from a CI/CD variable, not the file")
    body = "\n".join(job.get("script") or [])
    yield "gitlab-ci.yml", body, {
        "CI_PROJECT_PATH": "acme/shop", "CI_PROJECT_NAME": "shop", "CI_COMMIT_SHA": "abc",
        "CI_PROJECT_ID": "7", "CI_PIPELINE_ID": "42", "CI_JOB_NAME": "qualityfoundry",
        "GITLAB_USER_LOGIN": "alice"}, r"CI_PIPELINE_ID"
    reports = (job.get("artifacts") or {}).get("reports") or {}
    if reports.get("junit") != "qf-junit.xml":
        problems.append("gitlab-ci.yml: artifacts:reports:junit must be "
                        "qf-junit.xml (the merge request shows the failures)")


def main():
    for name, body, env, stable in scripts():
        if subprocess.run(["bash", "-n"], input=body, text=True).returncode != 0:
            problems.append(f"{name}: the job script is not valid bash")
            continue
        m = re.search(r'^\s*id="([^"]+)"', body, re.M)
        if not m or not re.search(stable, m.group(1)) or re.search(
                r"run_attempt|RUN_ATTEMPT|CI_JOB_ID", m.group(1)):
            problems.append(f"{name}: the message id must be the pipeline/run id, "
                            "stable across retries")
        if not re.search(r'QF_ID_SECRET:\?[^}]*\}:\$id', body) or \
                '--message-id "$id:$key"' not in body:
            problems.append(f"{name}: the message id must carry a hash keyed "
                            "with QF_ID_SECRET (unguessable, still stable)")
        for flag in ("--wait", "--junit-out qf-junit.xml",
                     "--evidence-out qf-evidence.json"):
            if flag not in body:
                problems.append(f"{name}: qf submit lacks {flag}")
        if "--workspace" in body:
            problems.append(f"{name}: --workspace: the pipeline's commit is "
                            "the source, the workers' workspace is not it")
        with tempfile.TemporaryDirectory() as tmp:
            fake = pathlib.Path(tmp, "qf")
            fake.write_text(
                "#!/bin/sh\nprintf '%s' \"$*\" >\"$FAKE_ARGS\"\n"
                "[ -n \"$FAKE_QUIET\" ] || printf 'FAIL: 1 of 2 tests failed\\n"
                "  evidence: /var/lib/qf/artifacts/r/evidence.json\\n'\n"
                "exit \"$FAKE_RC\"\n")
            fake.chmod(0o755)
            for rc, quiet in ((0, ""), (1, ""), (2, ""), (3, ""), (65, ""),
                              (3, "1"), (1, "1")):
                e = dict(os.environ, **env, PATH=f"{tmp}:{os.environ['PATH']}",
                         FAKE_RC=str(rc), FAKE_ARGS=f"{tmp}/args",
                         FAKE_QUIET=quiet,
                         QF_ID_SECRET="s3cret",
                         QF_AMQP_URL="amqp://x@127.0.0.1:1/")
                r = subprocess.run(["bash", "-e", "-c", body], env=e, cwd=tmp, text=True,
                                   capture_output=True)
                if r.returncode != rc:
                    problems.append(f"{name}: qf exit {rc} gave job exit {r.returncode}")
                if not quiet and "evidence: /var/lib/qf/artifacts/r/evidence.json" \
                        not in r.stdout:
                    problems.append(f"{name}: qf's output is not shown (exit {rc})")
                if "Traceback" in r.stdout + r.stderr:
                    problems.append(f"{name}: a traceback (exit {rc}, "
                                    f"{'no' if quiet else 'some'} output)")
                args = pathlib.Path(tmp, "args").read_text()
                if not args.startswith("submit "):
                    problems.append(f"{name}: qf called as `qf {args}`")
        print(f"{name}: YAML ok, bash ok, message-id {m.group(1) if m else '?'}, "
              "job exit follows qf submit (0/1/2/3/65)")
    for p in problems:
        print("deploy/ci: " + p, file=sys.stderr)
    if problems:
        print("deploy/ci: FAILED", file=sys.stderr)
        return 1
    print("deploy/ci: ok")
    return 0


sys.exit(main())
