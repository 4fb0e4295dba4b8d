"""Programme-officer pages: the programmes, writing a draft with its rule checked as it is
typed, simulating it with tables and charts, publishing it, and running it.

Every page calls the eligibility services with the session's actor; they check the purpose
and write the access log. Simulations show counts only, with cells under 10 people hidden
from purposes that may not see persons. The live rule check is an htmx request from a static
script file (the CSP forbids inline script); without JavaScript the same check runs when
the form is sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from fairshare.assets import Asset, asset_definition, format_amount, to_minor_units
from fairshare.audit.model import Tag
from fairshare.catalogue import services as catalogue_services
from fairshare.catalogue.model import FieldDefinition, UnknownField
from fairshare.catalogue.redline import RefusedField
from fairshare.eligibility import services as eligibility_services
from fairshare.eligibility.charts import ChartFormat, breakdown_chart
from fairshare.eligibility.model import (
    BREAKDOWNS,
    MAX_DECLARED_FIELDS,
    MAX_RULE_LENGTH,
    SMALL_CELL,
    CyclePeriod,
    DeclaredField,
    NothingToPublish,
    NotPublished,
    ProgrammeExists,
    ProgrammeOverview,
    ProgrammeSpec,
    Run,
    Target,
    benefit_text,
)
from fairshare.eligibility.rules import RuleError
from fairshare.errors import Conflict, InvalidInput
from fairshare.identity.guard import authorize
from fairshare.identity.model import Purpose, Role
from fairshare.ledger.charts import disbursement_chart
from fairshare.web.forms import FormErrors, FormField, choice_label, field_message
from fairshare.web.i18n import N_
from fairshare.web.rendering import redirect, render
from fairshare.web.routing import Visit, page

router = APIRouter()
DESIGN = eligibility_services.DESIGN
SIMULATE = eligibility_services.SIMULATE
CODE_LENGTH = 40
LIST_SEPARATORS = re.compile(r"[\s,;]+")
BLANK_LINES = 2  # empty field lines offered below the declared ones

TARGET_LABELS: dict[str, str] = {
    Target.PERSON: N_("Each person"),
    Target.HOUSEHOLD: N_("Each household"),
}
PERIOD_LABELS: dict[str, str] = {
    CyclePeriod.MONTHLY: N_("Monthly"),
    CyclePeriod.QUARTERLY: N_("Quarterly"),
    CyclePeriod.YEARLY: N_("Yearly"),
}
ASSET_LABELS: dict[str, str] = {
    Asset.LOCAL_CURRENCY: N_("Local currency (amount like 130.00)"),
    Asset.FUEL: N_("Fuel (litres)"),
    Asset.FOOD_BASKET: N_("Food baskets (whole baskets)"),
    Asset.MEDICINE_PACK: N_("Medicine packs (whole packs)"),
}
BREAKDOWN_TITLES: dict[str, str] = {
    "region": N_("Eligible by region"),
    "age_band": N_("Eligible by age band"),
    "sex": N_("Eligible by sex"),
    "household_size": N_("Eligible by household size"),
}
# The form's own fields and their labels, to place the errors the services name.
FORM_LABELS: dict[str, str] = {
    "code": N_("Code"),
    "name": N_("Name"),
    "description": N_("Description"),
    "target": N_("Who it decides about"),
    "asset": N_("What it pays in"),
    "amount": N_("Amount per cycle"),
    "period": N_("Cycle"),
    "depends_on": N_("Programmes the rule may name"),
    "rule": N_("Eligibility rule"),
}


# ---- the draft form --------------------------------------------------------------------------


@dataclass
class DeclaredLine:
    """One line of the declared fields: a catalogue field and why the programme needs it."""

    name: str = ""
    purpose: str = ""

    def is_blank(self) -> bool:
        return not self.name.strip() and not self.purpose.strip()


@dataclass
class DraftEntry:
    """The draft form as typed."""

    code: str = ""
    name: str = ""
    description: str = ""
    target: str = Target.PERSON.value
    asset: str = Asset.LOCAL_CURRENCY.value
    amount: str = ""
    period: str = CyclePeriod.MONTHLY.value
    lines: list[DeclaredLine] = field(default_factory=list)
    depends_on: str = ""
    rule: str = ""

    @property
    def declared(self) -> tuple[DeclaredField, ...]:
        return tuple(
            DeclaredField(line.name.strip(), line.purpose.strip())
            for line in self.lines
            if not line.is_blank()
        )

    @property
    def dependencies(self) -> tuple[str, ...]:
        return tuple(code for code in LIST_SEPARATORS.split(self.depends_on) if code)


def _line_key(index: int, part: str) -> str:
    return f"field-{index}.{part}"


def _read_entry(visit: Visit) -> DraftEntry:
    try:
        count = int(visit.field("lines", 4) or 1)
    except ValueError:
        count = 1
    count = max(1, min(count, MAX_DECLARED_FIELDS + BLANK_LINES))
    return DraftEntry(
        code=visit.field("code", CODE_LENGTH).strip(),
        name=visit.field("name", 200).strip(),
        description=visit.field("description", 1000).strip(),
        target=visit.field("target", 20),
        asset=visit.field("asset", 30),
        amount=visit.field("amount", 30).strip(),
        period=visit.field("period", 20),
        lines=[
            DeclaredLine(
                visit.field(_line_key(i, "name"), 63).strip(),
                visit.field(_line_key(i, "purpose"), 300).strip(),
            )
            for i in range(count)
        ],
        depends_on=visit.field("depends_on", 1000).strip(),
        rule=visit.field("rule", MAX_RULE_LENGTH + 1),
    )


def amount_text(asset: str, minor: int) -> str:
    """Minor units as the form shows them, in the asset's entry unit: 13000 → '130.00'."""
    definition = asset_definition(asset)
    value = Decimal(minor).scaleb(-definition.scale)
    if definition.asset is Asset.LOCAL_CURRENCY:
        return f"{value:.{definition.scale}f}"
    return f"{value.normalize():f}"


def _entry_from(overview: ProgrammeOverview) -> DraftEntry:
    programme = overview.programme
    return DraftEntry(
        code=programme.code,
        name=programme.name,
        description=programme.description,
        target=programme.target.value,
        asset=programme.asset,
        amount=amount_text(programme.asset, programme.amount),
        period=programme.period.value,
        lines=[DeclaredLine(d.name, d.purpose) for d in programme.declared],
        depends_on=", ".join(programme.depends_on),
        rule=programme.rule,
    )


@dataclass
class LineForm:
    number: int
    name: FormField
    purpose: FormField


def _catalogue_fields(visit: Visit) -> list[FieldDefinition]:
    return sorted(catalogue_services.list_fields(visit.services.uow()), key=lambda d: d.name)


def _draft_page(
    visit: Visit,
    entry: DraftEntry,
    errors: FormErrors,
    *,
    creating: bool,
    status: int = 200,
) -> Response:
    translator = visit.translator

    def item(name: str, **options: object) -> FormField:
        return FormField(
            name,
            translator.gettext(FORM_LABELS[name]),
            error=errors.by_name.get(name, ""),
            **options,  # type: ignore[arg-type]
        )

    fields = []
    if creating:
        fields.append(
            item(
                "code",
                value=entry.code,
                required=True,
                max_length=CODE_LENGTH,
                hint=visit._(
                    "2-40 lowercase letters, digits and underscores, e.g. old_age_pension. "
                    "It cannot be changed later."
                ),
            )
        )
    fields += [
        item("name", value=entry.name, required=True, max_length=120),
        item("description", kind="textarea", value=entry.description, max_length=1000),
        item(
            "target",
            kind="select",
            value=entry.target,
            required=True,
            choices=[(t.value, translator.gettext(TARGET_LABELS[t])) for t in Target],
        ),
        item(
            "asset",
            kind="select",
            value=entry.asset,
            required=True,
            choices=[(a.value, translator.gettext(ASSET_LABELS[a])) for a in Asset],
        ),
        item(
            "amount",
            value=entry.amount,
            required=True,
            input_mode="decimal",
            max_length=30,
            hint=visit._(
                "What one cycle pays, in the unit of the asset: 130.00 in local currency, "
                "40 litres of fuel, 1 food basket."
            ),
        ),
        item(
            "period",
            kind="select",
            value=entry.period,
            required=True,
            choices=[(p.value, translator.gettext(PERIOD_LABELS[p])) for p in CyclePeriod],
        ),
    ]
    definitions = _catalogue_fields(visit)
    choices = [(d.name, f"{translator.gettext(d.label)} ({d.name})") for d in definitions]
    lines = [
        LineForm(
            index + 1,
            FormField(
                _line_key(index, "name"),
                visit._("Field %(number)s", number=index + 1),
                kind="select",
                value=line.name,
                choices=choices,
                error=errors.by_name.get(_line_key(index, "name"), ""),
            ),
            FormField(
                _line_key(index, "purpose"),
                visit._("Why the programme needs field %(number)s", number=index + 1),
                value=line.purpose,
                max_length=300,
                error=errors.by_name.get(_line_key(index, "purpose"), ""),
            ),
        )
        for index, line in enumerate(entry.lines)
    ]
    depends_on = item(
        "depends_on",
        value=entry.depends_on,
        max_length=1000,
        hint=visit._(
            "Codes of other programmes, separated by commas, that the rule names with "
            'enrolled("code"). Leave empty if it names none.'
        ),
    )
    rule = item(
        "rule",
        kind="textarea",
        value=entry.rule,
        required=True,
        max_length=MAX_RULE_LENGTH,
        hint=visit._(
            "A condition in Common Expression Language over the declared fields, e.g. "
            "age >= 65 && monthly_income < 150. It is checked as you type."
        ),
    )
    summary = [*fields]
    for line in lines:
        summary += [line.name, line.purpose]
    summary += [depends_on, rule]
    return render(
        visit,
        "programmes/edit.html",
        status,
        creating=creating,
        code=entry.code,
        fields=fields,
        lines=lines,
        depends_on=depends_on,
        rule=rule,
        rule_error=rule.error,
        rule_reads=None,
        errors=errors,
        summary_fields=summary,
        action="/programmes/new" if creating else f"/programmes/{entry.code}/edit",
    )


def _blank_entry() -> DraftEntry:
    return DraftEntry(lines=[DeclaredLine() for _ in range(BLANK_LINES + 1)])


def _with_blank_lines(entry: DraftEntry) -> DraftEntry:
    kept = [line for line in entry.lines if not line.is_blank()]
    room = MAX_DECLARED_FIELDS + BLANK_LINES - len(kept)
    entry.lines = kept + [DeclaredLine() for _ in range(max(0, min(BLANK_LINES, room)))]
    if not entry.lines:
        entry.lines = [DeclaredLine()]
    return entry


def _rule_message(visit: Visit, error: RuleError) -> str:
    return visit._(
        "Line %(line)s, column %(column)s: %(problem)s",
        line=error.line,
        column=error.column,
        problem=error.problem,
    )


def _place_error(
    visit: Visit, entry: DraftEntry, error: InvalidInput | Conflict, errors: FormErrors
) -> None:
    """What a service refused, next to the field it names where the form has one."""
    translator = visit.translator

    def line_of(name: str) -> int | None:
        for index, line in enumerate(entry.lines):
            if line.name == name:
                return index
        return None

    if isinstance(error, RuleError):
        errors.add("rule", _rule_message(visit, error))
        return
    if isinstance(error, ProgrammeExists):
        errors.add("code", visit._("Code: a programme with this code already exists"))
        return
    if isinstance(error, RefusedField):
        category = translator.gettext(error.category.label)
        message = visit._("Refused: this is about %(category)s", category=category)
        index = line_of(error.field_name)
        if index is None:
            errors.general.append(message)
        else:
            errors.add(_line_key(index, "name"), message)
        return
    if isinstance(error, UnknownField):
        for name in error.names:
            index = line_of(name)
            message = visit._("%(name)s is not a field of the catalogue", name=name)
            if index is None:
                errors.general.append(message)
            else:
                errors.add(_line_key(index, "name"), message)
        return
    placed = False
    for problem in error.errors if isinstance(error, InvalidInput) else []:
        name = str(problem.get("field", ""))
        reason = str(problem.get("reason", ""))
        if name in FORM_LABELS:
            label = translator.gettext(FORM_LABELS[name])
            errors.add(name, field_message(translator, label, reason))
            placed = True
        elif (index := line_of(name)) is not None:
            errors.add(
                _line_key(index, "purpose"),
                visit._("Field %(number)s: %(reason)s", number=index + 1, reason=reason),
            )
            placed = True
    if not placed:
        errors.general.append(error.message)


def _check_rule_too(visit: Visit, entry: DraftEntry, errors: FormErrors) -> None:
    """When the services stopped before the rule, check it as well: every error at once."""
    if "rule" in errors.by_name or not entry.rule.strip():
        return
    try:
        visit.services.eligibility.check_rule(
            visit.actor,
            entry.target if entry.target in TARGET_LABELS else Target.PERSON.value,
            entry.rule,
            [d.name for d in entry.declared],
            entry.dependencies,
        )
    except RuleError as error:
        errors.add("rule", _rule_message(visit, error))


def _amount(visit: Visit, entry: DraftEntry, errors: FormErrors) -> int:
    """The amount in minor units; 0 (refused by the service too) when it cannot be read."""
    label = visit.translator.gettext(FORM_LABELS["amount"])
    if not entry.amount:
        errors.add("amount", field_message(visit.translator, label, "is required"))
        return 0
    try:
        return to_minor_units(entry.asset, entry.amount)
    except InvalidInput as error:
        if entry.asset in ASSET_LABELS:
            reason = str(error.errors[0].get("reason", "")) if error.errors else error.message
            errors.add("amount", field_message(visit.translator, label, reason))
        return 0


@page(router, "GET", "/programmes")
def programme_list(visit: Visit) -> Response:
    """Every programme: its benefit, its published version and its last run's count."""
    overviews = visit.services.eligibility.list_programmes()
    rows = [
        {
            "code": o.programme.code,
            "name": o.programme.name,
            "benefit": _benefit(visit, o),
            "published": o.programme.published_version,
            "eligible": None if o.last_run is None else o.last_run.eligible,
        }
        for o in overviews
    ]
    return render(
        visit,
        "programmes/list.html",
        rows=rows,
        designs=visit.role is Role.PROGRAMME_OFFICER,
    )


def _benefit(visit: Visit, overview: ProgrammeOverview) -> str:
    """What the programme pays per cycle, in words: the published terms, else the draft's."""
    terms = overview.versions[-1] if overview.versions else overview.programme
    return benefit_text(terms.asset, terms.amount, terms.period, visit.language)


@page(router, "GET", "/programmes/new")
def new_programme_form(visit: Visit) -> Response:
    visit.require_purpose(DESIGN)
    return _draft_page(visit, _blank_entry(), FormErrors(), creating=True)


@page(router, "POST", "/programmes/new")
def create_programme(visit: Visit) -> Response:
    """Save a new draft; on any error the form comes back with the input and the errors."""
    visit.require_purpose(DESIGN)
    entry = _read_entry(visit)
    if visit.field("action", 20) == "add_line":
        entry.lines.append(DeclaredLine())
        return _draft_page(visit, entry, FormErrors(), creating=True)
    errors = FormErrors()
    amount = _amount(visit, entry, errors)
    spec = ProgrammeSpec(
        code=entry.code,
        name=entry.name,
        description=entry.description,
        target=entry.target,
        asset=entry.asset,
        amount=amount,
        period=entry.period,
        declared=entry.declared,
        rule=entry.rule,
        depends_on=entry.dependencies,
    )
    try:
        visit.services.eligibility.create_programme(visit.actor, spec)
    except (InvalidInput, Conflict) as error:
        _place_error(visit, entry, error, errors)
        _check_rule_too(visit, entry, errors)
        return _draft_page(visit, _with_blank_lines(entry), errors, creating=True, status=422)
    return redirect(f"/programmes/{entry.code}?saved=created")


@page(router, "POST", "/programmes/check")
def check_rule(visit: Visit) -> Response:
    """The live check (htmx): the rule's first error with its line and column, or what it reads."""
    visit.require_purpose(DESIGN)
    entry = _read_entry(visit)
    rule_error = ""
    reads: list[str] | None = None
    if entry.rule.strip():
        try:
            rule = visit.services.eligibility.check_rule(
                visit.actor,
                entry.target if entry.target in TARGET_LABELS else Target.PERSON.value,
                entry.rule,
                [d.name for d in entry.declared],
                entry.dependencies,
            )
            reads = list(rule.fields_used)
        except RuleError as error:
            rule_error = _rule_message(visit, error)
    return render(visit, "programmes/_rule_check.html", rule_error=rule_error, rule_reads=reads)


# ---- one programme -----------------------------------------------------------------------


def _code(code: str) -> str:
    return code[:CODE_LENGTH]


SAVED_MESSAGES = {
    "created": N_("The draft was saved. Simulate it, then publish it."),
    "updated": N_("The draft was changed. The published version stays as it is until you publish."),
    "published": N_("The draft was published as a new version."),
}


@page(router, "GET", "/programmes/{code}")
def programme_view(visit: Visit, code: str) -> Response:
    overview = visit.services.eligibility.get_programme(_code(code))
    saved = visit.request.query_params.get("saved", "")[:20]
    return render(
        visit,
        "programmes/programme.html",
        overview=overview,
        programme=overview.programme,
        benefit=benefit_text(
            overview.programme.asset,
            overview.programme.amount,
            overview.programme.period,
            visit.language,
        ),
        versions=[
            (v, benefit_text(v.asset, v.amount, v.period, visit.language))
            for v in reversed(overview.versions)
        ],
        last_run=overview.last_run,
        last_run_cost=_run_cost(visit, overview, overview.last_run),
        labels=_field_labels(visit),
        target_labels=TARGET_LABELS,
        designs=visit.role is Role.PROGRAMME_OFFICER,
        saved=visit.translator.gettext(SAVED_MESSAGES[saved]) if saved in SAVED_MESSAGES else "",
    )


def _field_labels(visit: Visit) -> dict[str, str]:
    return {d.name: visit.translator.gettext(d.label) for d in _catalogue_fields(visit)}


def _run_cost(visit: Visit, overview: ProgrammeOverview, run: Run | None) -> str:
    if run is None:
        return ""
    asset = next(
        (v.asset for v in overview.versions if v.version == run.version),
        overview.programme.asset,
    )
    return format_amount(asset, run.cost, visit.language)


@page(router, "GET", "/programmes/{code}/edit")
def edit_form(visit: Visit, code: str) -> Response:
    visit.require_purpose(DESIGN)
    overview = visit.services.eligibility.get_programme(_code(code))
    entry = _with_blank_lines(_entry_from(overview))
    return _draft_page(visit, entry, FormErrors(), creating=False)


@page(router, "POST", "/programmes/{code}/edit")
def edit_draft(visit: Visit, code: str) -> Response:
    """Change the draft; the published versions stay as they are until the next publish."""
    visit.require_purpose(DESIGN)
    code = _code(code)
    visit.services.eligibility.get_programme(code)  # an unknown code is a 404, not a form
    entry = _read_entry(visit)
    entry.code = code
    if visit.field("action", 20) == "add_line":
        entry.lines.append(DeclaredLine())
        return _draft_page(visit, entry, FormErrors(), creating=False)
    errors = FormErrors()
    amount = _amount(visit, entry, errors)
    try:
        visit.services.eligibility.update_draft(
            visit.actor,
            code,
            name=entry.name,
            description=entry.description,
            target=entry.target,
            asset=entry.asset,
            amount=amount,
            period=entry.period,
            declared=entry.declared,
            rule=entry.rule,
            depends_on=entry.dependencies,
        )
    except (InvalidInput, Conflict) as error:
        _place_error(visit, entry, error, errors)
        _check_rule_too(visit, entry, errors)
        return _draft_page(visit, _with_blank_lines(entry), errors, creating=False, status=422)
    return redirect(f"/programmes/{code}?saved=updated")


# ---- simulation ----------------------------------------------------------------------------


def _reference_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _simulation_page(
    visit: Visit, code: str, reference: str, error: str = "", run: bool = False
) -> Response:
    eligibility = visit.services.eligibility
    overview = eligibility.get_programme(code)
    programme = overview.programme
    simulation = None
    tables = []
    if run:
        simulation = eligibility.simulate(visit.actor, code, None, _reference_date(reference))
        for name in BREAKDOWNS:
            cells = [
                (_cell_label(visit, name, cell.label), cell.shown)
                for cell in simulation.breakdowns.get(name, ())
            ]
            tables.append((name, visit.translator.gettext(BREAKDOWN_TITLES[name]), cells))
    return render(
        visit,
        "programmes/simulate.html",
        422 if error else 200,
        programme=programme,
        simulation=simulation,
        cost=""
        if simulation is None
        else benefit_text(programme.asset, simulation.cost, programme.period, visit.language),
        tables=tables,
        reference=reference,
        reference_error=error,
        small_cell=SMALL_CELL,
        chart_query=f"?reference_date={simulation.reference_date.isoformat()}"
        if simulation
        else "",
    )


def _cell_label(visit: Visit, breakdown: str, label: str) -> str:
    if label == "unknown":
        return visit._("Not recorded")
    if breakdown == "sex":
        return choice_label(visit.translator, label)
    return label


@page(router, "GET", "/programmes/{code}/simulate")
def simulate_form(visit: Visit, code: str) -> Response:
    visit.require_purpose(SIMULATE)
    return _simulation_page(visit, _code(code), "")


@page(router, "POST", "/programmes/{code}/simulate")
def simulate(visit: Visit, code: str) -> Response:
    """Run the draft over the registry without storing any decision; show counts and charts."""
    visit.require_purpose(SIMULATE)
    reference = visit.field("reference_date", 20).strip()
    if reference and _reference_date(reference) is None:
        return _simulation_page(
            visit, _code(code), reference, visit._("Reference date: use the form YYYY-MM-DD")
        )
    return _simulation_page(visit, _code(code), reference, run=True)


@page(router, "GET", "/programmes/{code}/charts/{breakdown}")
def chart(visit: Visit, code: str, breakdown: str) -> Response:
    """One breakdown of the draft's simulation as a PNG bar chart (an <img> of the page)."""
    visit.require_purpose(SIMULATE)
    reference = _reference_date(visit.request.query_params.get("reference_date", "")[:20])
    simulation = visit.services.eligibility.simulate(visit.actor, _code(code), None, reference)
    image = breakdown_chart(simulation, breakdown[:40], ChartFormat.PNG)
    return Response(image, media_type="image/png")


# ---- publishing and running ------------------------------------------------------------------


def _publish_page(visit: Visit, code: str, error: str = "", status: int = 200) -> Response:
    overview = visit.services.eligibility.get_programme(code)
    programme = overview.programme
    published = overview.versions[-1] if overview.versions else None
    return render(
        visit,
        "programmes/publish.html",
        status,
        programme=programme,
        benefit=benefit_text(programme.asset, programme.amount, programme.period, visit.language),
        published=published,
        published_benefit=""
        if published is None
        else benefit_text(published.asset, published.amount, published.period, visit.language),
        labels=_field_labels(visit),
        target_labels=TARGET_LABELS,
        error=error,
    )


@page(router, "GET", "/programmes/{code}/publish")
def publish_form(visit: Visit, code: str) -> Response:
    visit.require_purpose(DESIGN)
    return _publish_page(visit, _code(code))


@page(router, "POST", "/programmes/{code}/publish")
def publish(visit: Visit, code: str) -> Response:
    """Publish the draft as a new, immutable version, once the officer confirms."""
    visit.require_purpose(DESIGN)
    code = _code(code)
    if not visit.checked("confirm"):
        message = visit._("Tick the box to confirm that this version will be published")
        return _publish_page(visit, code, message, 422)
    try:
        version = visit.services.eligibility.publish(visit.actor, code)
    except NothingToPublish:
        message = visit._(
            "The published version already says exactly this. Change the draft before "
            "publishing again."
        )
        return _publish_page(visit, code, message, 409)
    except RuleError as error:
        return _publish_page(visit, code, _rule_message(visit, error), 422)
    except Conflict as error:
        return _publish_page(visit, code, error.message, 409)
    return redirect(f"/programmes/{code}?saved=published&version={version.version}")


def _runs_page(
    visit: Visit, code: str, ran: str = "", error: str = "", status: int = 200
) -> Response:
    eligibility = visit.services.eligibility
    overview = eligibility.get_programme(code)
    runs = eligibility.list_runs(code)
    rows = [(run, _run_cost(visit, overview, run)) for run in runs]
    finished = next((row for row in rows if row[0].id == ran), None)
    return render(
        visit,
        "programmes/runs.html",
        status,
        programme=overview.programme,
        rows=rows,
        finished=finished,
        designs=visit.role is Role.PROGRAMME_OFFICER,
        error=error,
    )


@page(router, "GET", "/programmes/{code}/runs")
def runs(visit: Visit, code: str) -> Response:
    """The programme's runs, newest first: how many were decided, how many eligible, the cost."""
    return _runs_page(visit, _code(code), ran=visit.request.query_params.get("ran", "")[:36])


@page(router, "POST", "/programmes/{code}/runs")
def run(visit: Visit, code: str) -> Response:
    """Evaluate the published version over the registry and store a decision for everyone."""
    visit.require_purpose(DESIGN)
    code = _code(code)
    try:
        result = visit.services.eligibility.run(visit.actor, code)
    except NotPublished:
        message = visit._("This programme has no published version yet: publish it first.")
        return _runs_page(visit, code, error=message, status=409)
    return redirect(f"/programmes/{code}/runs?ran={result.id}")


# ---- cycle results -------------------------------------------------------------------------

# As GET /api/v1/ledger/cycles: the officers who disburse, and auditors.
READ_CYCLES = frozenset({Purpose.DISBURSEMENT, Purpose.AUDIT})
CYCLE_STATUS_LABELS: dict[str, str] = {
    "running": N_("Running or interrupted: run it again to pay those left"),
    "completed": N_("Completed"),
}


def _cycle_rows(visit: Visit, code: str) -> list[dict[str, Any]]:
    authorize(
        visit.services.uow(), visit.actor, READ_CYCLES, "ledger", "cycles", Tag.LEDGER_TRANSFER_READ
    )
    return visit.services.cycles.cycles(code)


@page(router, "GET", "/programmes/{code}/cycles")
def cycles(visit: Visit, code: str) -> Response:
    """Each entitlement cycle of the programme: who was paid, how much, when and by whom."""
    visit.require_purpose(READ_CYCLES)
    code = _code(code)
    overview = visit.services.eligibility.get_programme(code)  # UnknownProgramme: 404
    rows = _cycle_rows(visit, code)
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["asset"]] = totals.get(row["asset"], 0) + row["total"]
    return render(
        visit,
        "programmes/cycles.html",
        programme=overview.programme,
        rows=[
            {
                **row,
                "total_text": format_amount(row["asset"], row["total"], visit.language),
                "amount_text": format_amount(row["asset"], row["amount"], visit.language),
                "not_paid": max(0, row["enrolled"] - row["posted"]),
                "status_text": visit.translator.gettext(
                    CYCLE_STATUS_LABELS.get(row["status"], row["status"])
                ),
            }
            for row in rows
        ],
        totals=[
            format_amount(asset, total, visit.language) for asset, total in sorted(totals.items())
        ],
    )


@page(router, "GET", "/programmes/{code}/cycles/chart")
def cycles_chart(visit: Visit, code: str) -> Response:
    """What each cycle paid, by period, as a PNG bar chart (an <img> of the cycles page)."""
    visit.require_purpose(READ_CYCLES)
    code = _code(code)
    overview = visit.services.eligibility.get_programme(code)
    image = disbursement_chart(
        _cycle_rows(visit, code), f"Paid per period — {overview.programme.name}"
    )
    return Response(image, media_type="image/png")
