"""Request and response bodies, named by purpose (PersonCreate, PersonPublic, ...)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fairshare.identity.model import Role

# Values a catalogue field can take on the wire; the catalogue parses them further.
FieldValue = str | int | float | bool | None
FieldValues = dict[str, FieldValue]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class UserCreate(Strict):
    username: str = Field(max_length=80)
    password: str = Field(min_length=12, max_length=200)
    role: str = Field(max_length=40, json_schema_extra={"enum": [r.value for r in Role]})
    display_name: str = Field("", max_length=120)
    person_id: str | None = Field(None, max_length=36)


class UserPublic(BaseModel):
    id: str
    username: str
    display_name: str
    role: str
    person_id: str | None


class FieldCreate(Strict):
    name: str = Field(max_length=63)
    label: str = Field(max_length=300)
    type: str = Field(max_length=20)
    entity: str = Field("person", max_length=20)
    purpose: str = Field(max_length=300)
    sensitivity: str = Field("personal", max_length=20)
    description: str = Field("", max_length=1000)
    programmes: list[str] = Field(default_factory=list, max_length=200)
    choices: list[str] = Field(default_factory=list, max_length=100)
    required: bool = False
    max_length: int = Field(200, ge=1, le=2000)
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    scale: int = Field(2, ge=0, le=6)


class FieldPublic(BaseModel):
    name: str
    label: str
    type: str
    entity: str
    purpose: str
    sensitivity: str
    description: str
    programmes: list[str]
    choices: list[str]
    required: bool
    core: bool


class PersonCreate(Strict):
    fields: FieldValues = Field(max_length=200, description="Catalogue field name → value")
    health_consent: bool = Field(False, description="The person consents to health data")
    consent_method: str = Field("recorded at registration", max_length=80)
    record_ref: str | None = Field(None, max_length=64)


class DuplicateConfirmation(Strict):
    confirm_not_duplicate: bool = Field(
        False,
        description="The caseworker checked the likely matches (409) and the person is "
        "someone else; needs not_duplicate_reason",
    )
    not_duplicate_reason: str | None = Field(None, max_length=500)


class HouseholdCreate(DuplicateConfirmation):
    fields: FieldValues = Field(max_length=200)
    members: list[PersonCreate] = Field(min_length=1, max_length=50)
    household_ref: str | None = Field(None, max_length=64)


class MemberCreate(PersonCreate, DuplicateConfirmation):
    pass


class DuplicateCheckCreate(Strict):
    fields: FieldValues = Field(
        max_length=200, description="The person's values: names, date_of_birth, national_id, …"
    )
    household: FieldValues | None = Field(
        None, max_length=200, description="The household's region, municipality and address"
    )
    household_id: str | None = Field(
        None, max_length=36, description="Or the household the person joins"
    )


class FieldEvidencePublic(BaseModel):
    level: str
    match_weight: float
    bayes_factor: float


class LikelyMatchPublic(BaseModel):
    person_id: str
    household_id: str
    given_names: str
    family_names: str
    date_of_birth: date | None
    sex: str | None
    region: str | None
    municipality: str | None
    match_probability: float
    match_weight: float
    evidence: dict[str, FieldEvidencePublic]


class CheckModelPublic(BaseModel):
    run_id: str | None = Field(description="The deduplication run whose model scored")
    trained: bool = Field(description="False: no run yet, the default parameters were used")


class DuplicateCheckPublic(BaseModel):
    matches: list[LikelyMatchPublic]
    threshold: float
    candidates: int = Field(description="Registered people scored")
    model: CheckModelPublic
    notes: list[str]


# A month, 2026-11, as the reports read it: four-digit years from 1000.
MONTH_PATTERN = r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"
# A month of the ledger, whose day after the month's end must be a date too: years 0001-9998.
LEDGER_YEAR = (
    r"0[0-9]{2}[1-9]|0[0-9][1-9]0|0[1-9]00|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8]"
)
LEDGER_MONTH_PATTERN = f"^({LEDGER_YEAR})-(0[1-9]|1[0-2])$"
# A reason for changing a record: no control characters, and at least 3 characters once
# trimmed (two non-blank characters with something between them), as the registry requires.
PRINTABLE = r"[^\x00-\x1f\x7f-\x9f]"
VISIBLE = r"[^\s\x00-\x1f\x7f-\x9f]"
REASON_PATTERN = f"^{PRINTABLE}*{VISIBLE}{PRINTABLE}+{VISIBLE}{PRINTABLE}*$"


class PersonUpdate(Strict):
    fields: FieldValues = Field(min_length=1, max_length=200)
    reason: str = Field(max_length=500, pattern=REASON_PATTERN)
    expected_version: int | None = None


class HouseholdUpdate(Strict):
    fields: FieldValues = Field(min_length=1, max_length=200)
    reason: str = Field(max_length=500, pattern=REASON_PATTERN)


class PersonPublic(BaseModel):
    id: str
    household_id: str
    record_ref: str | None
    version: int
    fields: dict[str, Any]
    health: dict[str, Any] = Field(description="Present only for purposes that need it")


class PersonSummaryPublic(BaseModel):
    id: str
    household_id: str
    given_names: str
    family_names: str
    date_of_birth: date
    region: str


class PeoplePublic(BaseModel):
    data: list[PersonSummaryPublic]
    count: int


class HouseholdPublic(BaseModel):
    id: str
    household_ref: str | None
    version: int
    fields: dict[str, Any]
    members: list[PersonPublic]


class ConsentCreate(Strict):
    method: str = Field(max_length=80, pattern=REASON_PATTERN, description="e.g. signed form")
    scope: str = Field("health", max_length=40, json_schema_extra={"enum": ["health"]})


class ConsentWithdrawn(BaseModel):
    erased_fields: int


class CorrectionCreate(Strict):
    field: str = Field(max_length=63)
    value: FieldValue
    reason: str = Field(max_length=500)


class CorrectionDecision(Strict):
    apply: bool
    reason: str = Field(max_length=500, pattern=REASON_PATTERN)


class CorrectionPublic(BaseModel):
    id: str
    person_id: str
    field: str
    requested_value: Any
    reason: str
    status: str
    requested_by: str
    requested_at: str
    decided_by: str | None
    decision_reason: str | None


class HistoryEntryPublic(BaseModel):
    field: str
    old: Any
    new: Any
    changed_at: str
    actor: str
    role: str
    reason: str
    correction_id: str | None


class AccessReportLinePublic(BaseModel):
    at: str
    actor: str
    role: str
    purpose: str
    action: str
    fields: list[str]
    outcome: str


class AccessEntryPublic(AccessReportLinePublic):
    sequence: int
    subject_type: str
    subject_id: str
    hash: str


class VerificationPublic(BaseModel):
    ok: bool
    entries_checked: int
    first_bad_sequence: int | None
    problem: str
    message: str


class RowErrorPublic(BaseModel):
    row: int
    field: str
    reason: str


class RowMatchesPublic(BaseModel):
    row: int = Field(description="1-based data row of the file")
    matches: list[LikelyMatchPublic]


class ImportReportPublic(BaseModel):
    rows: int
    people: int
    households: int
    rejected_rows: int
    dry_run: bool
    errors: list[RowErrorPublic]
    possible_duplicates: list[RowMatchesPublic] = Field(
        default_factory=list,
        description="Rows that look like people registered before the import",
    )
