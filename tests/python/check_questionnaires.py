#!/usr/bin/env python3
"""fhir.resources accepts every FHIR Questionnaire a built site publishes, and so do the
invariants a structure check does not see.

    check_questionnaires.py SITE_DIR

Parses SITE_DIR/templates/*/questionnaire.json and SITE_DIR/templates/*/v*.questionnaire.json
(as written by `careplans build`) with the `fhir.resources` package as R4B Questionnaires (R4B
changed nothing in Questionnaire from R4), which checks the structure: element names,
cardinalities, datatypes and choice types. A structure check does not see what connects one
element to another, nor most code bindings, so this script also checks, over the raw JSON:

- `resourceType` is Questionnaire, `status` is a PublicationStatus code, `name` meets que-0;
- every item has a linkId and an R4 item type, and linkIds are unique (que-2);
- every enableWhen names an existing question other than its own item, with an R4 operator;
  its answer[x] fits the question's type (choice -> answerCoding, boolean -> answerBoolean, ...,
  `exists` -> answerBoolean, que-7), and an answerCoding is one of that question's answerOptions;
- several enableWhen need an enableBehavior (que-12);
- answerOption and answerValueSet only on choice and open-choice items, never both (que-4);
  careplans only writes them there, which is stricter than R4's que-5;
- answerOption codings have a system and a code, so enableWhen can compare them;
- group items have children, display items have none (que-1) and no required, repeats (que-6),
  readOnly (que-9) or code (que-3); groups and display items have no initial (que-8), nor
  does an item with answerOption (que-11); maxLength only on simple types (que-10);
- booleans are JSON booleans (fhir.resources also takes "true" and 1);
- every extension has an absolute URL.

Every template folder of the site must have its questionnaire.json. The bundled templates use
neither every field type nor `required_when`, so the same checks also run on
tests/fixtures/fhir/all-field-types.questionnaire.json (what careplans publishes for a template
with every field type and both kinds of condition; a Rust test keeps it up to date), which must
pass, and on tests/fixtures/fhir/broken.questionnaire.json, which must fail with exactly the
problems planted in it. Before any of that, a good questionnaire is broken once per check, and
each break must be caught.

Every problem is printed as `FILE: LINKID: MESSAGE`. Exit status: 1 if there is any problem (or
no questionnaire was found), 0 otherwise. The last line is a one-line summary,
`fhir: N questionnaires passed ...`.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
from pathlib import Path

try:
    from fhir.resources.R4B.questionnaire import Questionnaire
except ImportError as error:  # pragma: no cover - depends on the environment
    sys.exit(
        f"fhir: cannot import fhir.resources ({error}); "
        "pip install -r tests/python/requirements.txt in a virtual environment first"
    )

ROOT = Path(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FIXTURES = ROOT / "tests" / "fixtures" / "fhir"
GOOD_FIXTURE = FIXTURES / "all-field-types.questionnaire.json"
BROKEN_FIXTURE = FIXTURES / "broken.questionnaire.json"
# What is planted in the broken fixture, one problem each.
BROKEN_EXPECTED = [
    "basics.short_text: linkId is used by more than one item (que-2)",
    "basics.help: display item has required (que-6)",
    "basics.short_text: answerOption on a string item",
    "basics.plan_details: enableWhen 0 names 'basics.has_adrt', which is no item",
    "choices.cpr_decided_by: enableWhen 0: http://snomed.info/sct|not-for-cpr is not an answerOption of 'choices.cpr'",
    "choices.cpr_review: several enableWhen without enableBehavior (que-12)",
    "choices.oxygen_flow: enableWhen 0: answerBoolean does not fit 'choices.devices', a choice item (expected answerCoding)",
    "empty: group item has no children (que-1)",
]

STATUSES = {"draft", "active", "retired", "unknown"}
ITEM_TYPES = {
    "group", "display", "boolean", "decimal", "integer", "date", "dateTime", "time",
    "string", "text", "url", "choice", "open-choice", "attachment", "reference", "quantity",
}
OPERATORS = {"exists", "=", "!=", ">", "<", ">=", "<="}
ANSWER_KEYS = (
    "answerBoolean", "answerDecimal", "answerInteger", "answerDate", "answerDateTime",
    "answerTime", "answerString", "answerCoding", "answerQuantity", "answerReference",
)
# The enableWhen answer[x] a question of each type is compared with.
ANSWER_FOR_TYPE = {
    "boolean": {"answerBoolean"},
    "decimal": {"answerDecimal"},
    "integer": {"answerInteger"},
    "date": {"answerDate"},
    "dateTime": {"answerDateTime"},
    "time": {"answerTime"},
    "string": {"answerString"},
    "text": {"answerString"},
    "url": {"answerString"},
    "quantity": {"answerQuantity"},
    "reference": {"answerReference"},
}
# answerOption value[x] -> the enableWhen answer[x] that compares with it.
ANSWER_FOR_OPTION = {
    "valueCoding": "answerCoding",
    "valueString": "answerString",
    "valueInteger": "answerInteger",
    "valueDate": "answerDate",
    "valueTime": "answerTime",
    "valueReference": "answerReference",
}
# Elements of type boolean in a Questionnaire: fhir.resources (pydantic's lax mode) takes "true"
# or 1 for them, but FHIR JSON writes a boolean as a JSON boolean.
BOOLEAN_ELEMENTS = {
    "experimental", "required", "repeats", "readOnly", "initialSelected", "answerBoolean",
    "valueBoolean", "initialBoolean", "userSelected",
}
SIMPLE_TYPES = {"boolean", "decimal", "integer", "string", "text", "url", "open-choice"}
NAME = re.compile(r"[A-Z]([A-Za-z0-9_]){0,254}")


def parse(text: str) -> None:
    """Raises on anything fhir.resources' R4B Questionnaire model refuses."""
    if hasattr(Questionnaire, "model_validate_json"):  # fhir.resources 7 and later (pydantic 2)
        Questionnaire.model_validate_json(text)
    else:  # fhir.resources 6 and earlier (pydantic 1)
        Questionnaire.parse_raw(text)


def walk(items, parent=None):
    """Every item, depth first, with its parent item."""
    for item in items or []:
        yield item, parent
        yield from walk(item.get("item"), item)


def booleans(element, where="Questionnaire"):
    """(where, key) of every boolean element that is not a JSON boolean."""
    if isinstance(element, dict):
        where = element.get("linkId", where) if isinstance(element.get("linkId"), str) else where
        for key, value in element.items():
            if key in BOOLEAN_ELEMENTS and not isinstance(value, bool):
                yield where, key
            else:
                yield from booleans(value, where)
    elif isinstance(element, list):
        for value in element:
            yield from booleans(value, where)


def allowed_answers(question: dict) -> set[str]:
    kind = question.get("type")
    if kind in ANSWER_FOR_TYPE:
        return ANSWER_FOR_TYPE[kind]
    if kind in ("choice", "open-choice"):
        keys = {
            ANSWER_FOR_OPTION[key]
            for option in question.get("answerOption", [])
            for key in option
            if key in ANSWER_FOR_OPTION
        }
        if not keys:  # answerValueSet, or nothing: the answers are codings
            keys = {"answerCoding"}
        if kind == "open-choice":
            keys.add("answerString")
        return keys
    return set()  # group, display, attachment: nothing to compare with


def check(q: dict) -> list[tuple[str, str]]:
    """The (linkId or element, message) of every problem the structure check does not see."""
    problems: list[tuple[str, str]] = []
    if q.get("resourceType") != "Questionnaire":
        problems.append(("resourceType", f"is {q.get('resourceType')!r}, not 'Questionnaire'"))
    if q.get("status") not in STATUSES:
        problems.append(("status", f"{q.get('status')!r} is not a PublicationStatus code"))
    if "name" in q and not NAME.fullmatch(str(q["name"])):
        problems.append(("name", f"{q['name']!r} is not a computable name (que-0)"))

    for where, key in booleans(q):
        problems.append((where, f"{key} is not a JSON boolean"))

    items = list(walk(q.get("item")))
    by_link_id: dict[str, dict] = {}
    for item, _ in items:
        link_id = item.get("linkId")
        if not isinstance(link_id, str) or not link_id:
            problems.append(("item", "an item has no linkId"))
            continue
        if link_id in by_link_id:
            problems.append((link_id, "linkId is used by more than one item (que-2)"))
        else:
            by_link_id[link_id] = item

    def extensions_of(element, where):
        for extension in element.get("extension", []) or []:
            url = extension.get("url", "")
            if not re.match(r"https?://\S+$", url):
                problems.append((where, f"extension URL {url!r} is not absolute"))

    extensions_of(q, "Questionnaire")
    for item, _ in items:
        link_id = item.get("linkId", "?")
        kind = item.get("type")
        children = item.get("item") or []
        extensions_of(item, link_id)
        if kind not in ITEM_TYPES:
            problems.append((link_id, f"type {kind!r} is not an R4 item type"))
        if kind == "group" and not children:
            problems.append((link_id, "group item has no children (que-1)"))
        if kind == "display":
            if children:
                problems.append((link_id, "display item has children (que-1)"))
            for key, rule in (("required", "que-6"), ("repeats", "que-6"),
                              ("readOnly", "que-9"), ("code", "que-3")):
                if key in item:
                    problems.append((link_id, f"display item has {key} ({rule})"))
        if kind in ("group", "display") and "initial" in item:
            problems.append((link_id, f"{kind} item has an initial value (que-8)"))
        if "maxLength" in item and kind not in SIMPLE_TYPES:
            problems.append((link_id, f"maxLength on a {kind} item (que-10)"))

        options = item.get("answerOption")
        if options is not None and kind not in ("choice", "open-choice"):
            problems.append((link_id, f"answerOption on a {kind} item"))
        if "answerValueSet" in item and kind not in ("choice", "open-choice"):
            problems.append((link_id, f"answerValueSet on a {kind} item"))
        if options is not None and "answerValueSet" in item:
            problems.append((link_id, "both answerOption and answerValueSet (que-4)"))
        if options and "initial" in item:
            problems.append((link_id, "initial value with answerOption (que-11)"))
        for number, option in enumerate(options or []):
            coding = option.get("valueCoding")
            if coding is not None and not (coding.get("system") and coding.get("code")):
                problems.append((link_id, f"answerOption {number} coding has no system or code"))
            for extension in option.get("extension", []) or []:
                if not re.match(r"https?://\S+$", extension.get("url", "")):
                    problems.append((link_id, f"answerOption {number} extension URL is not absolute"))

        conditions = item.get("enableWhen") or []
        if len(conditions) > 1 and "enableBehavior" not in item:
            problems.append((link_id, "several enableWhen without enableBehavior (que-12)"))
        if "enableBehavior" in item and item["enableBehavior"] not in ("all", "any"):
            problems.append((link_id, f"enableBehavior {item['enableBehavior']!r} is not all or any"))
        for number, condition in enumerate(conditions):
            where = f"enableWhen {number}"
            question_id = condition.get("question")
            operator = condition.get("operator")
            answers = [key for key in ANSWER_KEYS if key in condition]
            if operator not in OPERATORS:
                problems.append((link_id, f"{where}: operator {operator!r} is not an R4 operator"))
            if question_id == link_id:
                problems.append((link_id, f"{where} names its own item"))
            question = by_link_id.get(question_id)
            if question is None:
                problems.append((link_id, f"{where} names {question_id!r}, which is no item"))
                continue
            if len(answers) != 1:
                continue  # the structure check reports a missing or doubled answer[x]
            answer = answers[0]
            if operator == "exists":
                if answer != "answerBoolean":
                    problems.append((link_id, f"{where}: exists needs answerBoolean (que-7)"))
                continue
            expected = allowed_answers(question)
            if not expected:
                problems.append((link_id, f"{where} names a {question.get('type')} item, which has no answer"))
                continue
            if answer not in expected:
                problems.append((
                    link_id,
                    f"{where}: {answer} does not fit {question_id!r}, a {question.get('type')} "
                    f"item (expected {' or '.join(sorted(expected))})",
                ))
                continue
            if answer == "answerCoding" and question.get("answerOption") is not None:
                coding = condition["answerCoding"]
                known = [
                    (o["valueCoding"].get("system"), o["valueCoding"].get("code"))
                    for o in question["answerOption"]
                    if "valueCoding" in o
                ]
                if (coding.get("system"), coding.get("code")) not in known:
                    problems.append((
                        link_id,
                        f"{where}: {coding.get('system')}|{coding.get('code')} is not an "
                        f"answerOption of {question_id!r}",
                    ))
    return problems


def check_text(text: str) -> list[tuple[str, str]]:
    """Structure (fhir.resources) and invariants of one questionnaire's JSON text."""
    try:
        q = json.loads(text)
    except json.JSONDecodeError as error:
        return [("JSON", str(error))]
    if not isinstance(q, dict):
        return [("JSON", "not an object")]
    problems = []
    try:
        parse(text)
    except Exception as error:  # fhir.resources raises pydantic's ValidationError, among others
        for line in str(error).strip().splitlines():
            problems.append(("structure", line.strip()))
    return problems + check(q)


def self_test() -> int:
    """Break a good questionnaire once per check and fail unless each break is caught."""
    good = {
        "resourceType": "Questionnaire",
        "id": "t",
        "name": "T",
        "status": "active",
        "item": [{
            "linkId": "s",
            "type": "group",
            "item": [
                {"linkId": "s.help", "type": "display", "text": "Help"},
                {"linkId": "s.yes", "type": "boolean", "text": "Yes?", "required": True},
                {"linkId": "s.pick", "type": "choice", "text": "Pick", "answerOption": [
                    {"valueCoding": {"system": "http://snomed.info/sct", "code": "450475007"}},
                    {"valueCoding": {"system": "https://x.example/CodeSystem/t", "code": "other"}},
                ]},
                {"linkId": "s.coded", "type": "choice", "text": "Code",
                 "answerValueSet": "http://snomed.info/sct?fhir_vs=ecl/<<404684003"},
                {"linkId": "s.when", "type": "string", "text": "When", "required": True,
                 "enableBehavior": "any", "enableWhen": [
                     {"question": "s.yes", "operator": "=", "answerBoolean": True},
                     {"question": "s.pick", "operator": "=", "answerCoding":
                         {"system": "https://x.example/CodeSystem/t", "code": "other"}},
                     {"question": "s.coded", "operator": "=", "answerCoding":
                         {"system": "http://snomed.info/sct", "code": "22298006"}},
                 ]},
            ],
        }],
    }

    def item(q, link_id):
        return next(i for i, _ in walk(q["item"]) if i["linkId"] == link_id)

    def broken(change):
        q = copy.deepcopy(good)
        change(q, lambda link_id: item(q, link_id))
        return q

    cases = [
        ("an unknown element", "structure",
         lambda q, i: i("s.yes").update(colour="red")),
        ("a wrong datatype", "structure",
         lambda q, i: i("s.yes").update(text=5)),
        ("a string for a boolean", "required is not a JSON boolean",
         lambda q, i: i("s.yes").update(required="true")),
        ("two answer[x] in one enableWhen", "structure",
         lambda q, i: i("s.when")["enableWhen"][0].update(answerString="x")),
        ("a wrong resourceType", "not 'Questionnaire'",
         lambda q, i: q.update(resourceType="Patient")),
        ("a bad status", "PublicationStatus",
         lambda q, i: q.update(status="published")),
        ("a bad name", "que-0",
         lambda q, i: q.update(name="end-of-life")),
        ("a bad item type", "not an R4 item type",
         lambda q, i: i("s.yes").update(type="yes_no")),
        ("a duplicate linkId", "que-2",
         lambda q, i: i("s.pick").update(linkId="s.yes")),
        ("an enableWhen on a missing item", "which is no item",
         lambda q, i: i("s.when")["enableWhen"][0].update(question="s.gone")),
        ("an enableWhen on itself", "names its own item",
         lambda q, i: i("s.when")["enableWhen"][0].update(question="s.when")),
        ("a bad operator", "not an R4 operator",
         lambda q, i: i("s.when")["enableWhen"][0].update(operator="==")),
        ("answerCoding on a boolean", "does not fit",
         lambda q, i: i("s.when")["enableWhen"].__setitem__(0, {
             "question": "s.yes", "operator": "=", "answerCoding": {"code": "yes"}})),
        ("answerBoolean on a choice", "does not fit",
         lambda q, i: i("s.when")["enableWhen"].__setitem__(1, {
             "question": "s.pick", "operator": "=", "answerBoolean": True})),
        ("an answerCoding that is no option", "is not an answerOption",
         lambda q, i: i("s.when")["enableWhen"][1]["answerCoding"].update(code="nope")),
        ("exists without a boolean", "que-7",
         lambda q, i: i("s.when")["enableWhen"].__setitem__(0, {
             "question": "s.yes", "operator": "exists", "answerString": "x"})),
        ("an enableWhen on a group", "has no answer",
         lambda q, i: i("s.when")["enableWhen"].__setitem__(0, {
             "question": "s", "operator": "=", "answerBoolean": True})),
        ("several enableWhen without enableBehavior", "que-12",
         lambda q, i: i("s.when").pop("enableBehavior")),
        ("answerOption on a string", "answerOption on a string item",
         lambda q, i: i("s.when").update(answerOption=[{"valueString": "a"}])),
        ("answerValueSet on a boolean", "answerValueSet on a boolean item",
         lambda q, i: i("s.yes").update(answerValueSet="http://snomed.info/sct?fhir_vs")),
        ("both answerOption and answerValueSet", "que-4",
         lambda q, i: i("s.pick").update(answerValueSet="http://snomed.info/sct?fhir_vs")),
        ("an option coding without a system", "no system or code",
         lambda q, i: i("s.pick")["answerOption"][1]["valueCoding"].pop("system")),
        ("a required display item", "display item has required",
         lambda q, i: i("s.help").update(required=False)),
        ("a repeating display item", "display item has repeats",
         lambda q, i: i("s.help").update(repeats=True)),
        ("a display item with a code", "que-3",
         lambda q, i: i("s.help").update(code=[{"system": "http://snomed.info/sct", "code": "1"}])),
        ("a display item with children", "display item has children",
         lambda q, i: i("s.help").update(item=[{"linkId": "s.help.x", "type": "string"}])),
        ("a group without children", "group item has no children",
         lambda q, i: q["item"].append({"linkId": "empty", "type": "group", "text": "Empty"})),
        ("a relative extension URL", "not absolute",
         lambda q, i: i("s.yes").update(extension=[{"url": "field-type", "valueCode": "yes_no"}])),
        ("an item without a linkId", "structure",
         lambda q, i: i("s.yes").pop("linkId")),
    ]

    failures = 0
    good_problems = check_text(json.dumps(good))
    if good_problems:
        failures += 1
        print(f"self-test: the good questionnaire has problems: {good_problems}")
    for name, expected, change in cases:
        problems = check_text(json.dumps(broken(change)))
        if not any(expected in f"{where}: {message}" for where, message in problems):
            failures += 1
            print(f"self-test: {name} was not caught (expected {expected!r}, got {problems})")
    if failures:
        print(f"fhir self-test: {failures} of {len(cases) + 1} checks failed")
        return 1
    print(f"fhir self-test: {len(cases)} broken questionnaires caught, the good one passed")
    return 0


def site_files(site: Path) -> tuple[list[Path], list[str]]:
    """The site's published questionnaires, and every template folder that lacks one."""
    templates = site / "templates"
    files = set(templates.glob("*/questionnaire.json")) | set(templates.glob("*/v*.questionnaire.json"))
    missing = [
        f"{folder}: a template page without its questionnaire.json"
        for folder in sorted(p for p in templates.glob("*") if (p / "index.html").is_file())
        if not (folder / "questionnaire.json").is_file()
    ]
    return sorted(files), missing


def report(path: Path) -> list[str]:
    """`LINKID: MESSAGE` for every problem of one questionnaire file."""
    return [f"{where}: {message}" for where, message in check_text(path.read_text(encoding="utf-8"))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", metavar="SITE_DIR", help="a site built by `careplans build`")
    args = parser.parse_args()
    site = Path(os.path.abspath(args.site))

    problems: list[str] = []
    if self_test() != 0:
        problems.append("the self-test failed (above)")

    good = report(GOOD_FIXTURE)
    problems.extend(f"{GOOD_FIXTURE.relative_to(ROOT)}: {problem}" for problem in good)
    broken = report(BROKEN_FIXTURE)
    broken_as_planted = sorted(broken) == sorted(BROKEN_EXPECTED)
    if not broken_as_planted:
        problems.append(
            f"{BROKEN_FIXTURE.relative_to(ROOT)}: expected exactly the {len(BROKEN_EXPECTED)} "
            f"planted problems, found: {'; '.join(broken) or 'none'}"
        )

    files, missing = site_files(site)
    problems.extend(missing)
    if not files:
        problems.append(f"no templates/*/questionnaire.json under {site}")
    failed = 0
    for path in files:
        found = report(path)
        failed += bool(found)
        problems.extend(f"{path.relative_to(site)}: {problem}" for problem in found)

    for problem in problems:
        print(problem, file=sys.stderr)
    passed = len(files) - failed + (0 if good else 1)
    print(
        f"fhir: {passed} questionnaires passed ({len(files) - failed} of {len(files)} published "
        f"in {site}, and the all-field-types fixture); the broken fixture "
        f"{'failed with the ' + str(len(BROKEN_EXPECTED)) + ' problems planted in it' if broken_as_planted else 'did not fail as planted'}"
        + (f"; {len(problems)} problems" if problems else "")
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
