#!/usr/bin/env python3
"""frictionless-py agrees with the metrics table schema, and with a site's data package.

Default: validates records-schema/metrics.table.json as a Table Schema and every
records/metrics/*.csv against it, expecting 0 errors (suppressed counts, `*`, included); then
checks the schema is truthful about missing values: in a copy of a bundled month, an empty
count cell and a `*` in a key column must each be rejected.

--site DIR: also validates DIR/data/datapackage.json (as written by `careplans build`) as a
Data Package with 0 errors: its descriptor, and every resource's data against its schema; every
CSV and JSON file in DIR/data must be one of its resources.

--careplans PATH: also expects that careplans binary to refuse the same two cells
(`PATH check` exits 1 with a csv/... error on that row), in a temporary copy of the repository.

Exit status: 0 when everything agrees, 1 otherwise. The last line is a one-line summary.
"""

import argparse
import csv
import glob
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib

from frictionless import FrictionlessException, Package, Resource, Schema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IGNORED = shutil.ignore_patterns(".git", "target", "public", ".public.*", "node_modules")


def paths():
    with open(os.path.join(ROOT, "careplans.toml"), "rb") as f:
        config = tomllib.load(f).get("paths", {})
    return config.get("records", "records"), config.get("schemas", "records-schema")


def errors_of(report):
    """(row, field, type, message) of every error in a frictionless report."""
    return report.flatten(["rowNumber", "fieldName", "type", "message"])


def probes(metrics_file):
    """Copies of one bundled month, each with one cell the table schema must refuse."""
    with open(metrics_file, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    count = next(i for i, name in enumerate(header) if name == "new_plans")
    out = []
    for what, column, value in [
        ("an empty count cell (new_plans)", count, ""),
        ("`*` in a key column (area_code)", header.index("area_code"), "*"),
    ]:
        changed = [list(r) for r in rows]
        changed[1][column] = value
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(changed)
        out.append((what, header[column], text.getvalue()))
    return out


def metrics_mode(problems):
    records, schemas = paths()
    schema_path = os.path.join(schemas, "metrics.table.json")
    with open(schema_path, encoding="utf-8") as f:
        descriptor = json.load(f)
    report = Schema.validate_descriptor(descriptor)
    if not report.valid:
        problems.extend(f"{schema_path}: not a valid Table Schema: {e[3]}" for e in errors_of(report))
        return 0, 0
    schema = Schema.from_descriptor(descriptor)

    files = sorted(glob.glob(os.path.join(records, "metrics", "*.csv")))
    if not files:
        problems.append(f"no metrics files in {records}/metrics")
    rows = suppressed = 0
    for path in files:
        resource = Resource(path=path, schema=schema, encoding="utf-8")
        report = resource.validate()
        for row, field, kind, message in errors_of(report)[:5]:
            problems.append(f"{path}: row {row}, {field}: {kind}: {message}")
        if report.stats["errors"] > 5:
            problems.append(f"{path}: {report.stats['errors'] - 5} more errors")
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()[1:]
        rows += len(lines)
        suppressed += sum(line.split(",").count("*") for line in lines)
    if files and not suppressed:
        problems.append("no bundled count is suppressed (`*`), so the check shows nothing about missing values")

    refused = 0
    with tempfile.TemporaryDirectory(prefix="metrics-probe-") as scratch:
        name = os.path.basename(files[-1]) if files else "2000-01.csv"
        for what, column, text in probes(files[-1]) if files else []:
            with open(os.path.join(scratch, name), "w", encoding="utf-8") as f:
                f.write(text)
            report = Resource(path=name, basepath=scratch, schema=schema, encoding="utf-8").validate()
            found = [e for e in errors_of(report) if e[0] == 2 and e[1] == column]
            if not found:
                problems.append(f"the table schema accepts {what}")
            else:
                refused += 1
                print(f"frictionless refuses {what}: {found[0][2]}")
    print(f"frictionless: {len(files)} metrics files, {rows} rows ({suppressed} suppressed counts) against {schema_path}")
    return len(files), refused


def site_mode(site, problems):
    data = os.path.join(site, "data")
    descriptor_path = os.path.join(data, "datapackage.json")
    if not os.path.isfile(descriptor_path):
        problems.append(f"{descriptor_path} is missing: careplans build should write it")
        return 0
    try:
        package = Package(descriptor_path)
    except FrictionlessException as error:
        problems.append(f"{descriptor_path}: not a valid Data Package: {error.error.message}")
        for note in getattr(error, "reasons", []) or []:
            problems.append(f"  {note.message}")
        return 0
    report = package.validate()
    for task in report.tasks:
        for error in task.errors[:5]:
            row = getattr(error, "row_number", None)
            problems.append(f"{descriptor_path}: {task.name}{f' row {row}' if row else ''}: {error.type}: {error.message}")
        if len(task.errors) > 5:
            problems.append(f"{descriptor_path}: {task.name}: {len(task.errors) - 5} more errors")
    for error in report.errors:
        problems.append(f"{descriptor_path}: {error.type}: {error.message}")
    # frictionless reads a table's rows but not the content of other files: a JSON download
    # must at least be JSON.
    for resource in package.resources:
        if resource.type != "table" and resource.format == "json" and isinstance(resource.path, str):
            try:
                with open(os.path.join(data, resource.path), encoding="utf-8") as f:
                    json.load(f)
            except (OSError, ValueError) as error:
                problems.append(f"{descriptor_path}: {resource.name}: {resource.path} is not readable JSON: {error}")
    listed = {os.path.normpath(r.path) for r in package.resources if isinstance(r.path, str)}
    on_disk = {name for name in os.listdir(data) if name.endswith((".csv", ".json")) and name != "datapackage.json"}
    for name in sorted(on_disk - listed):
        problems.append(f"{descriptor_path}: data/{name} is not one of its resources")
    names = [r.name for r in package.resources]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{descriptor_path}: resource name {name} is used twice")
    tables = sum(1 for r in package.resources if r.type == "table")
    print(f"frictionless: {descriptor_path}: {len(package.resources)} resources ({tables} tables)")
    return len(package.resources)


def careplans_mode(binary, problems):
    records, _ = paths()
    files = sorted(glob.glob(os.path.join(records, "metrics", "*.csv")))
    if not files:
        return 0, 0
    target = files[-1]
    cases = probes(target)
    refused = 0
    with tempfile.TemporaryDirectory(prefix="careplans-metrics-") as scratch:
        for index, (what, column, text) in enumerate(cases):
            repo = os.path.join(scratch, f"case-{index}")
            shutil.copytree(ROOT, repo, ignore=IGNORED, symlinks=True)
            with open(os.path.join(repo, target), "w", encoding="utf-8") as f:
                f.write(text)
            run = subprocess.run([binary, "check", "--repo", repo, "--format", "json"], capture_output=True, text=True)
            try:
                diagnostics = json.loads(run.stdout)["diagnostics"]
            except (json.JSONDecodeError, KeyError):
                diagnostics = []
            found = [
                d for d in diagnostics
                if d["path"] == target and d["code"].startswith("csv/") and d.get("span", {}).get("start", {}).get("line") == 2
            ]
            if run.returncode != 1 or not found:
                problems.append(f"careplans check (exit {run.returncode}) does not refuse {what} in {target} row 2")
            else:
                refused += 1
                print(f"careplans refuses {what}: {found[0]['code']}: {found[0]['message']}")
            shutil.rmtree(repo)
    return refused, len(cases)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", metavar="DIR", help="a built site whose data/datapackage.json to validate")
    parser.add_argument("--careplans", metavar="PATH", help="a careplans binary that must refuse the same cells")
    args = parser.parse_args()
    site = os.path.abspath(args.site) if args.site else None
    binary = os.path.abspath(args.careplans) if args.careplans else None
    os.chdir(ROOT)

    problems = []
    files, refused = metrics_mode(problems)
    summary = f"frictionless: {files} metrics files checked, {refused} of 2 bad cells refused"
    if site:
        summary += f", {site_mode(site, problems)} data package resources checked"
    if binary:
        refused_by_careplans, cases = careplans_mode(binary, problems)
        summary += f", careplans refused {refused_by_careplans} of {cases} bad cells"
    for problem in problems:
        print(problem, file=sys.stderr)
    print(summary + (f"; {len(problems)} not as expected (above)" if problems else ""))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
