#!/usr/bin/python3
"""The README and docs/ stand alone: every link in README.md and docs/*.md
points at a file of the repository that exists (or an anchor), none leaves
it (no ../ past the root, no absolute path, no http link: a clone on a
machine without network, or without our shared folder, must read whole).
Usage: check_links.py SOURCE_DIR. Exits 1 naming each bad link."""
import pathlib, re, sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
files = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
link = re.compile(r"\]\(([^)\s]+)\)|href=\"([^\"]+)\"")
problems, count = [], 0
for f in files:
    if not f.exists():
        problems.append(f"{f.relative_to(root)}: missing")
        continue
    text = f.read_text()
    if "../shared" in text:
        problems.append(f"{f.relative_to(root)}: mentions ../shared, which a clone does not have")
    for n, line in enumerate(text.splitlines(), 1):
        for m in link.finditer(line):
            target = (m.group(1) or m.group(2)).split("#", 1)[0]
            count += 1
            where = f"{f.relative_to(root)}:{n}: {m.group(1) or m.group(2)}"
            if not target:
                continue  # an anchor in the same page
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("/"):
                problems.append(f"{where}: leaves the repository")
                continue
            path = (f.parent / target).resolve()
            if root not in path.parents and path != root:
                problems.append(f"{where}: points outside the repository")
            elif not path.exists():
                problems.append(f"{where}: no such file")
for p in problems:
    print("check_links: " + p, file=sys.stderr)
if not problems:
    print(f"check_links: {count} links in {len(files)} pages, all inside the repository")
sys.exit(1 if problems else 0)
