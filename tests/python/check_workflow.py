#!/usr/bin/env python3
"""actionlint finds nothing in the records workflow (.github/workflows/*.yml).

Runs the actionlint binary installed in this virtual environment (with the environment's
shellcheck, so `run:` scripts are checked too) and expects 0 findings. Every `uses:` must be
pinned to a full commit SHA with its release in a comment (`@<sha> # v7.0.1`). actionlint knows
the inputs and Node runtimes of popular actions by release tag only, so the workflow is also
linted as a copy in which each pin is replaced by the major tag of its comment (`@v7`): a pin
whose release runs on a removed Node runtime, or that is given an input it does not have, is
then reported at its line.

Exit status: 0 when actionlint finds nothing, 1 otherwise. The last line is a one-line summary.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
USES = re.compile(r"^(?P<lead>\s*(?:-\s+)?uses:\s+)(?P<action>[^@\s]+)@(?P<ref>\S+)(?P<rest>.*)$")
PINNED = re.compile(r"^[0-9a-f]{40}$")
RELEASE = re.compile(r"^\s+#\s+(?P<release>\S+)\s*$")
MAJOR = re.compile(r"^(v\d+)\.\d+\.\d+$")


def tool(name):
    path = shutil.which(name, path=BIN)
    if not path:
        sys.exit(f"{name} is not installed in {BIN}: pip install -r tests/python/requirements.txt")
    return path


def actionlint(project, files):
    """Findings of actionlint (as dicts) on files, relative to project."""
    run = subprocess.run(
        [tool("actionlint"), "-no-color", "-format", "{{json .}}",
         "-shellcheck", tool("shellcheck"), "-pyflakes", "", *files],
        cwd=project, capture_output=True, text=True,
    )
    if run.returncode not in (0, 1):
        sys.exit(f"actionlint failed (exit {run.returncode}): {run.stderr.strip()}")
    return json.loads(run.stdout or "[]")


def by_major_tag(text, path, problems):
    """The workflow with each `@<sha> # vX.Y.Z` pin written as `@vX`; pins not so written are problems."""
    lines = []
    pins = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        match = USES.match(line.rstrip("\n"))
        if not match or match["action"].startswith(("./", "docker://")):
            lines.append(line)
            continue
        release = RELEASE.match(match["rest"])
        if not PINNED.match(match["ref"]) or not release:
            problems.append(f"{path}:{number}: {match['action']}@{match['ref']} is not pinned to a full commit SHA with its release in a comment")
            lines.append(line)
            continue
        pins += 1
        tag = release["release"]
        major = MAJOR.match(tag)
        lines.append(f"{match['lead']}{match['action']}@{major[1] if major else tag}\n")
    return "".join(lines), pins


def main():
    os.chdir(ROOT)
    files = sorted(glob.glob(".github/workflows/*.yml") + glob.glob(".github/workflows/*.yaml"))
    if not files:
        sys.exit("no workflows in .github/workflows")
    version = subprocess.run([tool("actionlint"), "-version"], capture_output=True, text=True).stdout.split()[0:2]
    problems = []
    seen = set()
    for finding in actionlint(ROOT, files):
        seen.add((finding["filepath"], finding["line"], finding["column"], finding["message"]))
        problems.append(f"{finding['filepath']}:{finding['line']}:{finding['column']}: {finding['message']} [{finding['kind']}]")

    pins = 0
    with tempfile.TemporaryDirectory(prefix="workflow-tags-") as project:
        os.makedirs(os.path.join(project, ".github", "workflows"))
        for path in files:
            with open(path, encoding="utf-8") as f:
                text, count = by_major_tag(f.read(), path, problems)
            pins += count
            with open(os.path.join(project, path), "w", encoding="utf-8") as f:
                f.write(text)
        for finding in actionlint(project, files):
            if (finding["filepath"], finding["line"], finding["column"], finding["message"]) in seen:
                continue  # already reported from the workflow itself
            problems.append(
                f"{finding['filepath']}:{finding['line']}:{finding['column']}: (as its release tag) {finding['message']} [{finding['kind']}]"
            )

    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"workflow: {' '.join(version)} found {len(problems)} problems in {', '.join(files)} ({pins} pinned actions)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
