"""The access log as a hash chain: plain functions that build and check entries.

Each entry's hash covers its own content and the previous entry's hash, so changing,
removing or reordering any entry breaks every hash after it. The chain head (last sequence
number and hash) is stored separately, which also catches entries cut off the end.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from json.encoder import encode_basestring as _quote

GENESIS_HASH = "0" * 64


class Tag(StrEnum):
    """Every kind of access, as area:subject:action."""

    CATALOGUE_FIELD_CREATE = "catalogue:field:create"
    REGISTRY_PERSON_CREATE = "registry:person:create"
    REGISTRY_PERSON_READ = "registry:person:read"
    REGISTRY_PERSON_UPDATE = "registry:person:update"
    REGISTRY_PERSON_SEARCH = "registry:person:search"
    REGISTRY_PERSON_EXPORT = "registry:person:export"
    REGISTRY_PERSON_HISTORY = "registry:person:history"
    REGISTRY_HOUSEHOLD_CREATE = "registry:household:create"
    REGISTRY_HOUSEHOLD_READ = "registry:household:read"
    REGISTRY_HOUSEHOLD_UPDATE = "registry:household:update"
    REGISTRY_CONSENT_GRANT = "registry:consent:grant"
    REGISTRY_CONSENT_WITHDRAW = "registry:consent:withdraw"
    REGISTRY_CORRECTION_REQUEST = "registry:correction:request"
    REGISTRY_CORRECTION_DECIDE = "registry:correction:decide"
    REGISTRY_IMPORT_CREATE = "registry:import:create"
    DEDUP_REGISTRY_READ = "dedup:registry:read"
    DEDUP_RESULT_EXPORT = "dedup:result:export"
    DEDUP_RESULT_EVALUATE = "dedup:result:evaluate"
    DEDUP_QUEUE_READ = "dedup:queue:read"
    DEDUP_PAIR_DECIDE = "dedup:pair:decide"
    DEDUP_PERSON_MERGE = "dedup:person:merge"
    DEDUP_PERSON_UNMERGE = "dedup:person:unmerge"
    DEDUP_REGISTRY_CHECK = "dedup:registry:check"
    DEDUP_CANDIDATE_READ = "dedup:candidate:read"
    DEDUP_CANDIDATE_DISMISS = "dedup:candidate:dismiss"
    AUDIT_REPORT_READ = "audit:report:read"
    AUDIT_LOG_SEARCH = "audit:log:search"
    ELIGIBILITY_PROGRAMME_CREATE = "eligibility:programme:create"
    ELIGIBILITY_PROGRAMME_UPDATE = "eligibility:programme:update"
    ELIGIBILITY_PROGRAMME_SIMULATE = "eligibility:programme:simulate"
    ELIGIBILITY_PROGRAMME_PUBLISH = "eligibility:programme:publish"
    ELIGIBILITY_PROGRAMME_RUN = "eligibility:programme:run"
    ELIGIBILITY_HEALTH_READ = "eligibility:health:read"
    ELIGIBILITY_DECISION_CREATE = "eligibility:decision:create"
    ELIGIBILITY_DECISION_READ = "eligibility:decision:read"
    ELIGIBILITY_APPEAL_FILE = "eligibility:appeal:file"
    ELIGIBILITY_APPEAL_READ = "eligibility:appeal:read"
    ELIGIBILITY_APPEAL_DECIDE = "eligibility:appeal:decide"
    LEDGER_MERCHANT_CREATE = "ledger:merchant:create"
    LEDGER_TRANSFER_CREATE = "ledger:transfer:create"
    LEDGER_TRANSFER_READ = "ledger:transfer:read"
    LEDGER_CYCLE_RUN = "ledger:cycle:run"
    LEDGER_QUOTA_EXPIRE = "ledger:quota:expire"
    LEDGER_ENTITLEMENT_READ = "ledger:entitlement:read"
    LEDGER_ENTITLEMENT_REDEEM = "ledger:entitlement:redeem"
    LEDGER_PAYOUT_EXPORT = "ledger:payout:export"
    LEDGER_PAYOUT_IMPORT = "ledger:payout:import"
    LEDGER_BALANCE_READ = "ledger:balance:read"
    CREDENTIALS_IDENTITY_VERIFY = "credentials:identity:verify"
    REPORTS_COVERAGE_READ = "reports:coverage:read"
    REPORTS_HEALTH_AGGREGATE = "reports:health:aggregate"
    REPORTS_EXCLUSION_READ = "reports:exclusion:read"
    CREDENTIALS_CARD_ISSUE = "credentials:card:issue"
    CREDENTIALS_CARD_READ = "credentials:card:read"
    CREDENTIALS_CARD_REVOKE = "credentials:card:revoke"
    CREDENTIALS_CARD_VERIFY = "credentials:card:verify"
    CREDENTIALS_REVOCATION_EXPORT = "credentials:revocation:export"
    CREDENTIALS_KEY_ROTATE = "credentials:key:rotate"
    CREDENTIALS_KEY_RETIRE = "credentials:key:retire"
    CREDENTIALS_DEVICE_REGISTER = "credentials:device:register"
    CREDENTIALS_ALLOWANCE_EXPORT = "credentials:allowance:export"
    CREDENTIALS_RECEIPT_SYNC = "credentials:receipt:sync"
    IDENTITY_ACCESS_DENIED = "identity:access:denied"
    IDENTITY_USER_CREATE = "identity:user:create"


class Outcome(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"


@dataclass(frozen=True)
class AccessEntry:
    sequence: int
    at: datetime
    actor: str
    role: str
    purpose: str
    action: str
    subject_type: str
    subject_id: str
    fields: tuple[str, ...]
    outcome: str
    previous_hash: str
    hash: str


@dataclass(frozen=True)
class AccessRequest:
    """What one access was: everything that goes into an entry except its place in the chain."""

    actor: str
    role: str
    purpose: str
    action: str
    subject_type: str
    subject_id: str
    fields: tuple[str, ...] = ()
    outcome: str = Outcome.ALLOWED


def utc_now() -> datetime:
    """Now, to the millisecond: what every database here stores without rounding."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored here is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def canonical_json(sequence: int, at_text: str, request: AccessRequest, previous_hash: str) -> str:
    """The entry as JSON with sorted keys and no spaces.

    Written out by hand because it runs once per access-log entry (hundreds of thousands
    in a bulk import); it must stay byte-identical to
    json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
    which a test checks.
    """
    quote = _quote
    fields = ",".join(quote(name) for name in sorted(request.fields))
    return (
        f'{{"action":{quote(request.action)},"actor":{quote(request.actor)},'
        f'"at":{quote(at_text)},"fields":[{fields}],"outcome":{quote(request.outcome)},'
        f'"previous_hash":{quote(previous_hash)},"purpose":{quote(request.purpose)},'
        f'"role":{quote(request.role)},"sequence":{sequence:d},'
        f'"subject_id":{quote(request.subject_id)},'
        f'"subject_type":{quote(request.subject_type)}}}'
    )


def entry_hash(
    sequence: int,
    at: datetime,
    request: AccessRequest,
    previous_hash: str,
) -> str:
    """SHA-256 over a canonical JSON of the entry; any change to any part changes it."""
    at_text = as_utc(at).isoformat(timespec="milliseconds")
    canonical = canonical_json(sequence, at_text, request, previous_hash)
    return hashlib.sha256(canonical.encode()).hexdigest()


def chain(
    requests: Iterable[AccessRequest], start_sequence: int, previous_hash: str, at: datetime
) -> list[AccessEntry]:
    """Link a batch of requests after the given head; returns the new entries in order."""
    entries = []
    sequence, head = start_sequence, previous_hash
    for request in requests:
        sequence += 1
        digest = entry_hash(sequence, at, request, head)
        entries.append(
            AccessEntry(
                sequence,
                at,
                request.actor,
                request.role,
                request.purpose,
                request.action,
                request.subject_type,
                request.subject_id,
                tuple(sorted(request.fields)),
                request.outcome,
                head,
                digest,
            )
        )
        head = digest
    return entries


@dataclass(frozen=True)
class VerificationResult:
    ok: bool
    entries_checked: int
    first_bad_sequence: int | None = None
    problem: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"access log intact: {self.entries_checked} entries, chain verified"
        return (
            f"access log TAMPERED at entry {self.first_bad_sequence}: {self.problem} "
            f"({self.entries_checked} entries checked before it)"
        )


def verify(
    entries: Iterable[AccessEntry], head_sequence: int, head_hash: str
) -> VerificationResult:
    """Walk entries in sequence order; name the first that was changed, removed or reordered."""
    previous = GENESIS_HASH
    checked = 0
    for expected_sequence, entry in enumerate(entries, start=1):
        if entry.sequence != expected_sequence:
            return VerificationResult(
                False,
                checked,
                expected_sequence,
                f"entry {expected_sequence} is missing or out of order "
                f"(found {entry.sequence} in its place)",
            )
        if entry.previous_hash != previous:
            return VerificationResult(
                False,
                checked,
                entry.sequence,
                "its link to the previous entry does not match (an entry was removed, "
                "reordered or changed before it)",
            )
        request = AccessRequest(
            entry.actor,
            entry.role,
            entry.purpose,
            entry.action,
            entry.subject_type,
            entry.subject_id,
            entry.fields,
            entry.outcome,
        )
        if entry_hash(entry.sequence, entry.at, request, entry.previous_hash) != entry.hash:
            return VerificationResult(
                False, checked, entry.sequence, "its content no longer matches its hash"
            )
        previous = entry.hash
        checked += 1
    if checked != head_sequence or previous != head_hash:
        return VerificationResult(
            False,
            checked,
            checked + 1,
            f"the chain head records {head_sequence} entries but {checked} remain "
            "(entries were removed from the end)",
        )
    return VerificationResult(True, checked)
