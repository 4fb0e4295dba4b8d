"""Words shown for codes: roles, purposes, access-log actions and enumeration choices.

Each is English marked for translation (N_); pages translate them when they show them.
"""

from __future__ import annotations

from fairshare.audit.model import Tag
from fairshare.identity.model import Purpose, Role
from fairshare.web.i18n import N_

ROLE_LABELS: dict[Role, str] = {
    Role.ADMINISTRATOR: N_("Administrator"),
    Role.CASEWORKER: N_("Caseworker"),
    Role.PROGRAMME_OFFICER: N_("Programme officer"),
    Role.MERCHANT: N_("Merchant"),
    Role.AUDITOR: N_("Auditor"),
    Role.CITIZEN: N_("Citizen"),
}

PURPOSE_LABELS: dict[Purpose, str] = {
    Purpose.ADMINISTRATION: N_("Administration"),
    Purpose.BULK_REGISTRATION: N_("Bulk registration"),
    Purpose.REGISTRATION: N_("Registration"),
    Purpose.CASE_MANAGEMENT: N_("Case management"),
    Purpose.HEALTH_ASSESSMENT: N_("Health assessment"),
    Purpose.CORRECTION_HANDLING: N_("Correction handling"),
    Purpose.DATA_SUBJECT_REQUEST: N_("Request from the person"),
    Purpose.DUPLICATE_REVIEW: N_("Duplicate review"),
    Purpose.APPEAL_REVIEW: N_("Appeal review"),
    Purpose.IDENTITY_VERIFICATION: N_("Identity verification"),
    Purpose.PROGRAMME_DESIGN: N_("Programme design"),
    Purpose.DISBURSEMENT: N_("Disbursement"),
    Purpose.REDEMPTION: N_("Redemption"),
    Purpose.AUDIT: N_("Audit"),
    Purpose.SELF_SERVICE: N_("The person themselves"),
}

PURPOSE_DESCRIPTIONS: dict[Purpose, str] = {
    Purpose.ADMINISTRATION: N_("Declare catalogue fields and manage user accounts."),
    Purpose.BULK_REGISTRATION: N_("Import registry files."),
    Purpose.REGISTRATION: N_("Register households and people."),
    Purpose.CASE_MANAGEMENT: N_("Find, read and update a person's case. No health values."),
    Purpose.HEALTH_ASSESSMENT: N_(
        "Assess disability or illness for an entitlement. Health values are shown."
    ),
    Purpose.CORRECTION_HANDLING: N_("Apply or reject correction requests."),
    Purpose.DATA_SUBJECT_REQUEST: N_(
        "Answer a person who asked in person for their data or who accessed it."
    ),
    Purpose.DUPLICATE_REVIEW: N_("Review possible duplicate registrations."),
    Purpose.APPEAL_REVIEW: N_("Review appeals against decisions."),
    Purpose.IDENTITY_VERIFICATION: N_("Check a person's identity when they have no card."),
    Purpose.PROGRAMME_DESIGN: N_("Design programmes and see aggregate results."),
    Purpose.DISBURSEMENT: N_("Fund programmes, post entitlement cycles and pay merchants."),
    Purpose.REDEMPTION: N_("Redeem entitlements at a shop, pharmacy or fuel station."),
    Purpose.AUDIT: N_("Search the access log and verify it."),
    Purpose.SELF_SERVICE: N_("See and manage your own record."),
}

ACTION_LABELS: dict[str, str] = {
    Tag.CATALOGUE_FIELD_CREATE: N_("declared a catalogue field"),
    Tag.REGISTRY_PERSON_CREATE: N_("registered the person"),
    Tag.REGISTRY_PERSON_READ: N_("read the record"),
    Tag.REGISTRY_PERSON_UPDATE: N_("changed the record"),
    Tag.REGISTRY_PERSON_SEARCH: N_("found the record in a search"),
    Tag.REGISTRY_PERSON_EXPORT: N_("exported all the data"),
    Tag.REGISTRY_PERSON_HISTORY: N_("read the record's history"),
    Tag.REGISTRY_HOUSEHOLD_CREATE: N_("registered the household"),
    Tag.REGISTRY_HOUSEHOLD_READ: N_("read the household"),
    Tag.REGISTRY_HOUSEHOLD_UPDATE: N_("changed the household"),
    Tag.REGISTRY_CONSENT_GRANT: N_("recorded consent"),
    Tag.REGISTRY_CONSENT_WITHDRAW: N_("recorded that consent was withdrawn"),
    Tag.REGISTRY_CORRECTION_REQUEST: N_("requested or read a correction"),
    Tag.REGISTRY_CORRECTION_DECIDE: N_("decided a correction"),
    Tag.REGISTRY_IMPORT_CREATE: N_("imported a file"),
    Tag.AUDIT_REPORT_READ: N_("read who accessed the record"),
    Tag.AUDIT_LOG_SEARCH: N_("searched the access log"),
    Tag.ELIGIBILITY_PROGRAMME_CREATE: N_("created a programme"),
    Tag.ELIGIBILITY_PROGRAMME_UPDATE: N_("changed a programme"),
    Tag.ELIGIBILITY_PROGRAMME_SIMULATE: N_("simulated a programme"),
    Tag.ELIGIBILITY_PROGRAMME_PUBLISH: N_("published a programme"),
    Tag.ELIGIBILITY_PROGRAMME_RUN: N_("ran a programme"),
    Tag.ELIGIBILITY_HEALTH_READ: N_("used health data for eligibility"),
    Tag.ELIGIBILITY_DECISION_CREATE: N_("made an eligibility decision"),
    Tag.ELIGIBILITY_DECISION_READ: N_("read eligibility decisions"),
    Tag.ELIGIBILITY_APPEAL_FILE: N_("filed an appeal"),
    Tag.ELIGIBILITY_APPEAL_READ: N_("read appeals"),
    Tag.ELIGIBILITY_APPEAL_DECIDE: N_("decided an appeal"),
    Tag.LEDGER_MERCHANT_CREATE: N_("registered a merchant"),
    Tag.LEDGER_TRANSFER_CREATE: N_("made a ledger transfer"),
    Tag.LEDGER_TRANSFER_READ: N_("read ledger transfers"),
    Tag.LEDGER_CYCLE_RUN: N_("posted a cycle's entitlements"),
    Tag.LEDGER_QUOTA_EXPIRE: N_("returned unused quotas at the end of their period"),
    Tag.LEDGER_ENTITLEMENT_READ: N_("read entitlement balances"),
    Tag.LEDGER_ENTITLEMENT_REDEEM: N_("redeemed an entitlement"),
    Tag.LEDGER_PAYOUT_EXPORT: N_("exported a merchant payout file"),
    Tag.LEDGER_PAYOUT_IMPORT: N_("imported a bank status report"),
    Tag.LEDGER_BALANCE_READ: N_("read the trial balance"),
    Tag.CREDENTIALS_IDENTITY_VERIFY: N_("checked identity in person"),
    Tag.REPORTS_COVERAGE_READ: N_("read the coverage and equity report"),
    Tag.REPORTS_HEALTH_AGGREGATE: N_("counted health data in an aggregate statistic"),
    Tag.REPORTS_EXCLUSION_READ: N_("listed the person as possibly left out of a benefit"),
    Tag.CREDENTIALS_CARD_ISSUE: N_("issued a card"),
    Tag.CREDENTIALS_CARD_READ: N_("printed or read a card"),
    Tag.CREDENTIALS_CARD_REVOKE: N_("revoked a card"),
    Tag.CREDENTIALS_CARD_VERIFY: N_("checked a card"),
    Tag.CREDENTIALS_REVOCATION_EXPORT: N_("exported the list of revoked cards"),
    Tag.CREDENTIALS_KEY_ROTATE: N_("added a card signing key"),
    Tag.CREDENTIALS_KEY_RETIRE: N_("retired a card signing key"),
    Tag.CREDENTIALS_DEVICE_REGISTER: N_("registered a merchant device for offline use"),
    Tag.CREDENTIALS_ALLOWANCE_EXPORT: N_("gave a merchant device an offline allowance"),
    Tag.CREDENTIALS_RECEIPT_SYNC: N_("synced offline redemptions"),
    Tag.IDENTITY_ACCESS_DENIED: N_("was refused access"),
    Tag.IDENTITY_USER_CREATE: N_("created an account"),
    # Written as text: the duplicate-finding area is still settling its tags.
    "dedup:registry:read": N_("compared the record with others to find duplicates"),
    "dedup:result:export": N_("exported possible duplicates"),
    "dedup:result:evaluate": N_("evaluated duplicate finding"),
    "dedup:queue:read": N_("compared the record with a possible duplicate"),
    "dedup:pair:decide": N_("decided whether two records are the same person"),
    "dedup:person:merge": N_("merged duplicate records"),
    "dedup:person:unmerge": N_("undid a merge of duplicate records"),
    "dedup:registry:check": N_("checked the registry for duplicates of a new registration"),
    "dedup:candidate:read": N_("showed the record as a possible duplicate of a new registration"),
    "dedup:candidate:dismiss": N_(
        "registered someone else after confirming they are not this person"
    ),
}

# Names in access-log entries that are not catalogue fields.
LOGGED_NAMES: dict[str, str] = {
    "access_log": N_("the list of who accessed the record"),
    "username": N_("account name"),
    "role": N_("account role"),
    "health": N_("health consent"),
    # Appeals: what a caseworker or the person read or wrote about an appeal.
    "reason": N_("reason given for an appeal or a decision"),
    "status": N_("appeal status"),
    "eligible": N_("eligibility outcome"),
}

# Choice codes of the core enumerations, in words; any other code is shown as written.
CHOICE_LABELS: dict[str, str] = {
    "female": N_("Female"),
    "male": N_("Male"),
    "other": N_("Other"),
    "head": N_("Head of household"),
    "spouse_partner": N_("Spouse or partner"),
    "child": N_("Child"),
    "stepchild": N_("Stepchild"),
    "grandchild": N_("Grandchild"),
    "parent": N_("Parent"),
    "sibling": N_("Brother or sister"),
    "other_relative": N_("Other relative"),
    "non_relative": N_("Not related"),
    "employed": N_("Employed"),
    "self_employed": N_("Self-employed"),
    "informal_worker": N_("Informal worker"),
    "unemployed": N_("Unemployed"),
    "student": N_("Student"),
    "retired": N_("Retired"),
    "homemaker": N_("Homemaker"),
    "unable_to_work": N_("Unable to work"),
    "none": N_("None"),
    "physical": N_("Physical"),
    "visual": N_("Visual"),
    "hearing": N_("Hearing"),
    "speech": N_("Speech"),
    "intellectual": N_("Intellectual"),
    "psychosocial": N_("Psychosocial"),
    "multiple": N_("Multiple"),
    "diabetes": N_("Diabetes"),
    "hypertension": N_("Hypertension"),
    "asthma_copd": N_("Asthma or COPD"),
    "hiv": N_("HIV"),
    "tuberculosis": N_("Tuberculosis"),
    "epilepsy": N_("Epilepsy"),
    "heart_disease": N_("Heart disease"),
    "kidney_disease": N_("Kidney disease"),
    "cancer": N_("Cancer"),
    "mental_health": N_("Mental health"),
    "house": N_("House"),
    "apartment": N_("Apartment"),
    "room": N_("Room"),
    "informal_settlement": N_("Informal settlement"),
    "shelter": N_("Shelter"),
    "no_dwelling": N_("No dwelling"),
    "owned": N_("Owned"),
    "rented": N_("Rented"),
    "ceded": N_("Lent by someone"),
    "occupied_informally": N_("Occupied informally"),
}
