#!/usr/bin/env python3
"""An independent validator agrees with careplans' JSON Schemas.

Default mode: runs check-jsonschema (the `jsonschema` library, not careplans' Rust validator)
from this virtual environment with each schema in records-schema/ over every bundled record of
its kind, expecting 0 errors, then over each invalid fixture in tests/fixtures/invalid/,
expecting it to be rejected with exactly one schema error (the one its file name names). It
also checks the schemas against their metaschema and that every property and definition has
a title and a description, for editors (.vscode/settings.json) to show.

--careplans PATH: copies the repository to a temporary folder once per fixture, puts the
fixture where a record of its kind lives (a template under records/templates/, a programme
under records/programmes/, a report under reports/, areas as records/areas.yaml) and expects
`PATH check --format json` to exit 1 with a `schema...` error in that file; the untouched copy
must check clean (exit 0).

Each fixture's first line says which schema it is for: `# schema: template.schema.json. ...`.
Exit status: 0 when everything agrees, 1 otherwise. The last line is a one-line summary.
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join("tests", "fixtures", "invalid")
SCHEMA_LINE = re.compile(r"^#\s*schema:\s*([a-z]+\.schema\.json)\b")

# Copied for each careplans run: everything but build output, caches and history.
IGNORED = shutil.ignore_patterns(".git", "target", "public", ".public.*", "node_modules")


def paths():
    """The workspace's folders, from careplans.toml (as careplans reads them)."""
    with open(os.path.join(ROOT, "careplans.toml"), "rb") as f:
        config = tomllib.load(f).get("paths", {})
    return config.get("records", "records"), config.get("schemas", "records-schema"), config.get("reports", "reports")


def kinds():
    """Each schema with the bundled records it governs and where a record of its kind lives."""
    records, schemas, reports = paths()
    return {
        "template.schema.json": (sorted(glob.glob(f"{records}/templates/*.yaml")), f"{records}/templates/{{stem}}.yaml"),
        "areas.schema.json": ([f"{records}/areas.yaml"], f"{records}/areas.yaml"),
        "programme.schema.json": (sorted(glob.glob(f"{records}/programmes/*.yaml")), f"{records}/programmes/{{stem}}.yaml"),
        "report.schema.json": (sorted(glob.glob(f"{reports}/*.yaml")), f"{reports}/{{stem}}.yaml"),
    }, schemas


def check_jsonschema(*args):
    """Runs check-jsonschema from this interpreter's environment; returns its JSON report."""
    run = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--output-format", "json", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    try:
        return json.loads(run.stdout)
    except json.JSONDecodeError:
        sys.exit(f"check-jsonschema gave no report (exit {run.returncode}):\n{run.stdout}{run.stderr}")


def unannotated(schema, where=""):
    """Pointers of properties and $defs entries that lack a title or a description
    (the `properties` inside `if`/`not` conditions are tests, not record keys)."""
    if not isinstance(schema, dict):
        return
    for key, value in schema.items():
        if key in ("properties", "$defs"):
            for name, sub in value.items():
                if not (isinstance(sub, dict) and "title" in sub and "description" in sub):
                    yield f"{where}/{key}/{name}"
                yield from unannotated(sub, f"{where}/{key}/{name}")
        elif key in ("items", "additionalProperties", "then", "else"):
            yield from unannotated(value, f"{where}/{key}")
        elif key in ("allOf", "anyOf", "oneOf", "prefixItems"):
            for i, sub in enumerate(value):
                yield from unannotated(sub, f"{where}/{key}/{i}")


def fixtures():
    """(path, schema file) for every invalid fixture."""
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, FIXTURES, "*.yaml"))):
        with open(path, encoding="utf-8") as f:
            first = f.readline()
        match = SCHEMA_LINE.match(first)
        if not match:
            sys.exit(f"{os.path.relpath(path, ROOT)}: the first line must say `# schema: NAME.schema.json`")
        out.append((os.path.relpath(path, ROOT), match.group(1)))
    return out


def schemas_mode():
    problems = []
    table, schemas = kinds()
    schema_files = [f"{schemas}/{name}" for name in table]

    report = check_jsonschema("--check-metaschema", *schema_files)
    for error in report.get("errors", []) + report.get("parse_errors", []):
        problems.append(f"{error.get('filename')}: not a valid JSON Schema: {error.get('message')}")
    for name in table:
        with open(os.path.join(ROOT, schemas, name), encoding="utf-8") as f:
            for pointer in unannotated(json.load(f)):
                problems.append(f"{schemas}/{name}#{pointer}: no title or no description")

    accepted = 0
    for name, (records, _) in table.items():
        if not records:
            problems.append(f"no records for {name}")
            continue
        report = check_jsonschema("--schemafile", f"{schemas}/{name}", *records)
        for error in report.get("errors", []):
            problems.append(f"{error['filename']}: {error['path']}: {error['message']} ({name})")
        for error in report.get("parse_errors", []):
            problems.append(f"{error['filename']}: cannot be read: {error['message']}")
        if report["status"] == "ok":
            accepted += len(records)

    rejected = 0
    cases = fixtures()
    for name in sorted({name for _, name in cases}):
        paths_for = [path for path, schema in cases if schema == name]
        if name not in table:
            problems.extend(f"{path}: no schema {name}" for path in paths_for)
            continue
        # One run per schema; check-jsonschema names the file of every error.
        report = check_jsonschema("--schemafile", f"{schemas}/{name}", *paths_for)
        for path in paths_for:
            unreadable = [e for e in report.get("parse_errors", []) if os.path.samefile(e["filename"], path)]
            errors = [e for e in report.get("errors", []) if os.path.samefile(e["filename"], path)]
            if unreadable:
                problems.append(f"{path}: is not readable YAML, so it tests nothing: {unreadable[0]['message']}")
            elif len(errors) != 1:
                found = "; ".join(f"{e['path']}: {e['message']}" for e in errors) or "none"
                problems.append(f"{path}: expected exactly one error from {name}, found {len(errors)}: {found}")
            else:
                rejected += 1
                print(f"rejected {path}: {errors[0]['path']}: {errors[0]['message']}")

    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"schemas: {accepted} records accepted, {rejected} invalid fixtures rejected"
          + (f"; {len(problems)} not as expected (above)" if problems else ""))
    return 1 if problems or len(cases) < 6 else 0


def careplans_check(binary, repo):
    run = subprocess.run([binary, "check", "--repo", repo, "--format", "json"], capture_output=True, text=True)
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        report = {"diagnostics": []}
    return run.returncode, report, run.stderr


def careplans_mode(binary):
    binary = os.path.abspath(binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"{binary} is not an executable careplans binary")
    table, _ = kinds()
    problems = []
    rejected = 0
    cases = fixtures()
    with tempfile.TemporaryDirectory(prefix="careplans-fixtures-") as scratch:
        clean = os.path.join(scratch, "clean")
        shutil.copytree(ROOT, clean, ignore=IGNORED, symlinks=True)
        code, report, stderr = careplans_check(binary, clean)
        if code != 0:
            shown = [f"{d['path']}: {d['code']}: {d['message']}" for d in report["diagnostics"]][:5]
            sys.exit(f"the bundled records do not check clean (exit {code}): {shown or stderr}")
        for index, (path, name) in enumerate(cases):
            repo = os.path.join(scratch, f"case-{index}")
            shutil.copytree(clean, repo, symlinks=True)
            stem = os.path.splitext(os.path.basename(path))[0]
            target = table[name][1].format(stem=stem)
            shutil.copyfile(os.path.join(ROOT, path), os.path.join(repo, target))
            code, report, stderr = careplans_check(binary, repo)
            schema_errors = [
                d for d in report["diagnostics"]
                if d["path"] == target and d["severity"] == "error" and d["code"].startswith("schema")
            ]
            if code != 1 or not schema_errors:
                problems.append(f"{path} as {target}: careplans check exited {code} without a schema error there {stderr.strip()}")
            else:
                rejected += 1
                first = schema_errors[0]
                print(f"careplans rejected {path} as {target}: {first['code']}: {first['message']}")
            shutil.rmtree(repo)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"schemas: careplans check rejected {rejected} of {len(cases)} invalid fixtures")
    return 1 if problems or len(cases) < 6 else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--careplans", metavar="PATH", help="check that this careplans binary rejects every fixture")
    args = parser.parse_args()
    binary = os.path.abspath(args.careplans) if args.careplans else None
    os.chdir(ROOT)
    sys.exit(careplans_mode(binary) if binary else schemas_mode())


if __name__ == "__main__":
    main()
