#!/bin/sh
# make_repo.sh DIR: a bare repository DIR/origin.git with two commits on
# main (A: tests/test_a.py passes; B: it fails), tag v1 on A, and branch
# side. Prints "A B" (the commit ids). The tests use it for real sources.
set -eu
dir=$1
export GIT_AUTHOR_NAME=qf GIT_AUTHOR_EMAIL=qf@example.invalid
export GIT_COMMITTER_NAME=qf GIT_COMMITTER_EMAIL=qf@example.invalid
export GIT_CONFIG_NOSYSTEM=1 HOME="$dir"
git init -q --bare -b main "$dir/origin.git"
git init -q -b main "$dir/work"
cd "$dir/work"
mkdir tests
printf 'def test_a():\n    assert 1 == 1\n' > tests/test_a.py
printf 'commit A\n' > VERSION
git add -A && git commit -q -m A
a=$(git rev-parse HEAD)
git tag v1
printf 'def test_a():\n    assert 1 == 2, "B breaks it"\n' > tests/test_a.py
printf 'commit B\n' > VERSION
git commit -q -am B
b=$(git rev-parse HEAD)
git branch side "$a"
git push -q "$dir/origin.git" main side v1
echo "$a $b"
