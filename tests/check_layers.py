#!/usr/bin/env python3
"""Checks the parts of common/ against the arrows in CMakeLists.txt.

Reads the objects of every part's static library (nm), and fails when
  - an object calls a function of a part its part may not use,
  - an object of a part that may not use a library (the broker, the
    database, HTTP, processes) calls it,
  - the objects call each other in a circle (one file must own each piece),
  - a source file under common/ or worker/ is over the line limit (a .c
    counted with its same-named public header).

Usage: check_layers.py BUILD_DIR SOURCE_DIR
"""
import glob
import os
import subprocess
import sys

MAX_LINES = 600

# Outside symbols only some parts may call: a prefix (or exact name) and
# the parts allowed to. Processes are the exec part's alone.
PROCESS = ["fork", "vfork", "execv", "execve", "execvp", "execl", "execlp",
           "posix_spawn", "posix_spawnp", "popen", "system", "waitpid",
           "wait4", "clone", "clone3"]
LIBRARIES = [
    ("amqp_", {"transport"}, "the broker (librabbitmq)"),
    ("PQ", {"store"}, "the database (libpq)"),
    ("curl_", {"service"}, "HTTP (libcurl)"),
    ("MHD_", {"service"}, "the HTTP server (libmicrohttpd)"),
    ("git_", {"exec"}, "repositories (libgit2)"),
] + [(name, {"exec"}, "processes (%s)" % name) for name in PROCESS]


def read_arrows(build):
    allowed = {}
    with open(os.path.join(build, "layers.txt")) as f:
        for line in f:
            part, _, deps = line.partition(":")
            allowed[part.strip()] = set(deps.split())
    return allowed


def nm(archive):
    """{object: (defined set, undefined set)} for one archive."""
    out = subprocess.run(["nm", "-A", archive], check=True,
                         capture_output=True, text=True).stdout
    objs = {}
    for line in out.splitlines():
        where, _, rest = line.rpartition(":")
        fields = rest.split()
        if not fields:
            continue
        obj = where.split(":")[-1]
        d, u = objs.setdefault(obj, (set(), set()))
        if len(fields) == 2 and fields[0] == "U":
            u.add(fields[1])
        elif len(fields) == 3 and fields[1] in "TDBRC":
            d.add(fields[2])
    return objs


def circles(edges):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def check_symbols(build, allowed, problems):
    owner, objs = {}, {}
    for part in allowed:
        archive = os.path.join(build, "libqf_%s.a" % part)
        for obj, (d, u) in nm(archive).items():
            key = "%s/%s" % (part, obj.replace(".c.o", ".c"))
            objs[key] = (part, d, u)
            for sym in d:
                owner[sym] = key
    edges = {}
    for key, (part, _, undef) in objs.items():
        for sym in sorted(undef):
            other = owner.get(sym)
            if other is None:
                for prefix, parts, what in LIBRARIES:
                    hit = sym.startswith(prefix) if prefix.endswith("_") or \
                        prefix == "PQ" else sym == prefix
                    if hit and part not in parts:
                        problems.append("%s uses %s (%s): only %s may" % (
                            key, what, sym, ", ".join(sorted(parts))))
                continue
            if other == key:
                continue
            edges.setdefault(key, set()).add(other)
            opart = objs[other][0]
            if opart != part and opart not in allowed[part]:
                problems.append("%s calls %s of %s: %s may use only %s" % (
                    key, sym, other, part,
                    ", ".join(sorted(allowed[part])) or "nothing"))
    for comp in circles(edges):
        problems.append("call circle between files: " + " <-> ".join(comp))
    return len(objs)


def check_lines(src, problems):
    headers = {}
    for h in glob.glob(os.path.join(src, "include", "*", "qf", "*.h")):
        headers[os.path.basename(h)[:-2]] = h
    files = glob.glob(os.path.join(src, "common", "*", "*.[ch]")) + \
        glob.glob(os.path.join(src, "worker", "*.[ch]")) + \
        list(headers.values())
    for path in sorted(files):
        n = sum(1 for _ in open(path, encoding="utf-8"))
        base = os.path.basename(path)
        if path.endswith(".c") and base[:-2] in headers:
            n += sum(1 for _ in open(headers[base[:-2]], encoding="utf-8"))
            what = "%s with its header" % os.path.relpath(path, src)
        else:
            what = os.path.relpath(path, src)
        if n > MAX_LINES:
            problems.append("%s: %d lines (over %d)" % (what, n, MAX_LINES))


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 64
    build, src = sys.argv[1], sys.argv[2]
    allowed = read_arrows(build)
    problems = []
    n = check_symbols(build, allowed, problems)
    check_lines(src, problems)
    for p in problems:
        print("check_layers: " + p)
    if problems:
        print("check_layers: %d problem(s)" % len(problems))
        return 1
    print("check_layers: %d objects in %d parts: arrows kept, no circle, "
          "no file over %d lines" % (n, len(allowed), MAX_LINES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
