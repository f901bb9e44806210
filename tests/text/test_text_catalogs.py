"""Every reason has a clean text for every audience and language, whatever its parameters."""

from __future__ import annotations

import datetime as dt
import inspect
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from gate import reasons
from gate.decision import Decision, Param
from gate.reasons import Reason, Verdict
from gate.text import AUDIENCES, CATALOGS, LANGUAGES, Audience, Language, _pick, render
from gate.text.catalog import Args, Catalog
from gate.text.format import Language as FormatLanguage
from gate.text.params import EXAMPLE_NOW, EXAMPLE_TZ, PARAMS, ParamSpec, examples, params_of, verdict_of

# What must never reach a screen: placeholders, Python reprs, raw codes, dangling punctuation.
_LEAKS = re.compile(
    r"[{}<>_]|\bNone\b|\bnull\b|datetime|tzinfo|ZoneInfo|Reason\.|Decision\(|\s{2}|^\s|\s$|[:;,—·]\s*$|\(\s*\)|\(\s|\s\)"
)


def _all_texts(decision: Decision) -> Iterator[tuple[Language, Audience, str]]:
    for language in LANGUAGES:
        for audience in AUDIENCES:
            text = render(decision, audience=audience, language=language, tz=EXAMPLE_TZ, now=EXAMPLE_NOW)
            yield language, audience, text


def _assert_clean(decision: Decision) -> None:
    for language, audience, text in _all_texts(decision):
        assert text, (decision.reason, language, audience)
        assert not _LEAKS.search(text), (decision.reason, language, audience, text)


def _without(decision: Decision, *names: str) -> Decision:
    params = {k: v for k, v in decision.params.items() if k not in names}
    return Decision(
        decision.verdict,
        decision.reason,
        params,
        admitted=decision.admitted,
        balance=decision.balance,
        holder=decision.holder,
        kind=decision.kind,
    )


def test_languages_and_audiences() -> None:
    assert LANGUAGES == ("en", "fr", "de")
    assert AUDIENCES == ("visitor", "staff")
    assert set(CATALOGS) == set(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_every_reason_has_a_text_for_every_audience(reason: Reason, language: Language) -> None:
    entry = CATALOGS[language][reason]
    bare = Decision(verdict_of(reason), reason)
    for audience in AUDIENCES:
        assert entry.visitor and entry.staff
        text = render(bare, audience=audience, language=language, tz=EXAMPLE_TZ)
        assert text.strip() == text and text
        assert not _LEAKS.search(text), text


def _params_in_source() -> Mapping[Reason, set[str]]:
    """The parameter names gate/reasons.py gives in its comments ("# ...; params: a, b (instant)")."""
    source = Path(inspect.getfile(reasons)).read_text(encoding="utf-8")
    found: dict[Reason, set[str]] = {reason: set() for reason in Reason}
    for line in source.splitlines():
        match = re.match(r'^\s+([A-Z_]+) = "[a-z_]+"\s*#(.*)$', line)
        if match is None or "params:" not in match.group(2):
            continue
        for part in match.group(2).split("params:", 1)[1].split(","):
            word = re.match(r"\s*(?:or\s+)?([a-z_]+)", part)
            if word and word.group(1) != "none":
                found[Reason[match.group(1)]].add(word.group(1))
    return found


def test_documented_parameters_match_the_enum_comments() -> None:
    in_source = _params_in_source()
    assert sum(map(len, in_source.values())) > 40  # the parser still understands the comments
    for reason in Reason:
        assert {spec.name for spec in params_of(reason)} == in_source[reason], reason


def test_params_table_names_each_parameter_once() -> None:
    for reason, specs in PARAMS.items():
        names = [spec.name for spec in specs]
        assert len(names) == len(set(names)), reason


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_examples_carry_every_documented_parameter(reason: Reason) -> None:
    first = examples(reason)[0]
    assert first.reason is reason
    assert set(first.params) == {spec.name for spec in params_of(reason)}


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_examples_render_clean(reason: Reason) -> None:
    for decision in examples(reason):
        _assert_clean(decision)


@pytest.mark.parametrize("reason", [r for r in Reason if params_of(r)], ids=str)
def test_any_parameter_may_be_missing(reason: Reason) -> None:
    full = examples(reason)[0]
    names = [spec.name for spec in params_of(reason)]
    for name in names:
        _assert_clean(_without(full, name))
        kept = [n for n in names if n != name]
        _assert_clean(_without(full, *kept))
    _assert_clean(_without(full, *names))


def _wrong_value(spec: ParamSpec) -> Param:
    wrong: dict[str, Param] = {
        "instant": "soon",
        "day": 12,
        "count": "many",
        "text": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    }
    return wrong[spec.kind]


@pytest.mark.parametrize("reason", [r for r in Reason if params_of(r)], ids=str)
def test_parameters_of_the_wrong_type_are_treated_as_missing(reason: Reason) -> None:
    params = {spec.name: _wrong_value(spec) for spec in params_of(reason)}
    _assert_clean(Decision(verdict_of(reason), reason, params))
    booleans: dict[str, Param] = {spec.name: True for spec in params_of(reason)}
    _assert_clean(Decision(verdict_of(reason), reason, booleans))


def _read_by(decision: Decision, language: FormatLanguage, audience: Audience) -> set[str]:
    args = Args(decision, language, EXAMPLE_TZ, EXAMPLE_NOW)
    entry = CATALOGS[language][decision.reason]
    text = entry.visitor if audience == "visitor" else entry.staff
    if not isinstance(text, str):
        text(args)
    return args.read


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_staff_see_every_parameter_and_texts_read_only_documented_ones(reason: Reason, language: Language) -> None:
    documented = {spec.name for spec in params_of(reason)}
    for decision in examples(reason):
        assert _read_by(decision, language, "visitor") <= documented
        read = _read_by(decision, language, "staff")
        assert read <= documented
        if decision is examples(reason)[0]:
            assert read == documented, f"staff text for {reason} ignores {documented - read}"


def test_texts_show_nothing_but_the_reduced_holder_name() -> None:
    extras: dict[str, Param] = {"email": "marie.dupont@example.org", "phone": "+33 6 12 34 56 78", "name": "Dupont"}
    for reason in Reason:
        for example in examples(reason):
            decision = Decision(
                example.verdict,
                reason,
                {**example.params, **extras},
                admitted=example.admitted,
                balance=example.balance,
                holder="Marie D.",
                entitlement_id="ENT-000123",
                kind=example.kind,
            )
            for language, audience, text in _all_texts(decision):
                for secret in ("example.org", "+33", "Dupont", "ENT-000123"):
                    assert secret not in text, (reason, language, audience, text)


def test_visitors_never_see_staff_only_parameters() -> None:
    staff_only = {spec.name for specs in PARAMS.values() for spec in specs if spec.meaning.endswith("(staff only)")}
    assert staff_only == {"detail", "by", "note"}
    for reason in Reason:
        decision = examples(reason)[0]
        hidden = [str(v) for k, v in decision.params.items() if k in staff_only]
        for language in LANGUAGES:
            text = render(decision, audience="visitor", language=language, tz=EXAMPLE_TZ, now=EXAMPLE_NOW)
            assert not any(value in text for value in hidden), (reason, language, text)


def test_visitor_and_staff_texts_differ_where_staff_need_more() -> None:
    decision = examples(Reason.UNPAID)[0]
    visitor = render(decision, audience="visitor", tz=EXAMPLE_TZ, now=EXAMPLE_NOW)
    staff = render(decision, audience="staff", tz=EXAMPLE_TZ, now=EXAMPLE_NOW)
    assert "23:59" in staff and "23:59" not in visitor


def test_a_code_without_texts_still_gets_an_answer() -> None:
    # A code added to gate.reasons before its texts: the lane answers, staff see the code.
    catalog: Catalog = {reason: entry for reason, entry in CATALOGS["fr"].items() if reason is not Reason.FROZEN}
    decision = Decision(Verdict.DENY, Reason.FROZEN)
    assert _pick(catalog, decision, "visitor") == CATALOGS["fr"][Reason.REVOKED].visitor
    assert _pick(catalog, decision, "staff") == "frozen"


def test_unknown_language_or_audience_is_refused() -> None:
    decision = Decision(Verdict.ADMIT, Reason.OK)
    with pytest.raises(ValueError, match="language"):
        render(decision, audience="visitor", language="it", tz=EXAMPLE_TZ)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="audience"):
        render(decision, audience="public", tz=EXAMPLE_TZ)  # type: ignore[arg-type]
