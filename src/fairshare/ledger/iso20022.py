"""ISO 20022 payout files: pain.001 credit transfers out, pain.002 status reports in.

Merchants who redeemed benefits paid in local currency are paid by bank transfer. This module
writes the CustomerCreditTransferInitiation (pain.001.001.09) that the paying agency uploads to
its bank, and reads the CustomerPaymentStatusReport (pain.002.001.10 or .001.03) that the bank
sends back. It is plain Python: amounts are integers of the minor unit and are written with
Decimal, never through floats.

Text fields are held to the character set every European bank accepts (the SEPA "Latin"
subset: A-Z a-z 0-9 / - ? : ( ) . , ' + and space). Names and remittance texts are
transliterated first (Peña → Pena, Müller → Muller, & → +); identifiers are never rewritten,
only refused.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NoReturn
from xml.etree.ElementTree import Element, ParseError, SubElement, indent, tostring

import defusedxml
from defusedxml.ElementTree import fromstring as parse_untrusted_xml

from fairshare.errors import InvalidInput

PAIN001_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
PAIN002_NAMESPACES = (
    "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10",
    "urn:iso:std:iso:20022:tech:xsd:pain.002.001.03",
)
MAX_STATUS_REPORT_BYTES = 20 * 1024 * 1024

MAX_NAME_LENGTH = 70  # the SEPA rulebooks cut names at 70 though ISO allows 140
MAX_REMITTANCE_LENGTH = 140
MAX_IDENTIFIER_LENGTH = 35
# ISO 20022 amounts and control sums have at most 18 digits and 5 decimals.
MAX_TOTAL_DIGITS = 18
MAX_SCALE = 5
AMOUNT_LIMIT = 10**MAX_TOTAL_DIGITS

ALLOWED_CHARACTERS = "A-Z a-z 0-9 / - ? : ( ) . , ' + and space"
_ALLOWED_TEXT = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]*")
_IBAN_FORMAT = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_BIC_FORMAT = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_CURRENCY_FORMAT = re.compile(r"[A-Z]{3}")

# Letters that Unicode decomposition does not reduce to ASCII, and punctuation with a close
# equivalent in the allowed set. Anything else outside the set is refused, not guessed.
_TRANSLITERATIONS = str.maketrans(
    {
        "ß": "ss",
        "Æ": "AE",
        "æ": "ae",
        "Ø": "O",
        "ø": "o",
        "Œ": "OE",
        "œ": "oe",
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
        "Ð": "D",
        "ð": "d",
        "Þ": "TH",
        "þ": "th",
        "ı": "i",
        "&": "+",
        "‘": "'",
        "’": "'",
        "´": "'",
        "`": "'",
        '"': "'",
        "“": "'",
        "”": "'",
        "„": "'",
        "«": "'",
        "»": "'",
        "‐": "-",
        "‑": "-",
        "–": "-",
        "—": "-",
        "¿": "?",
    }
)


class Outcome(StrEnum):
    """What a bank status means for a payout."""

    PAID = "paid"
    REJECTED = "rejected"
    PENDING = "pending"


# The bank has settled the transfer or accepted it for settlement (ACSP: all checks passed,
# settlement under way; ACWC: accepted with a change such as the date). A later return still
# arrives as its own message, as it can after ACSC too.
PAID_STATUSES = frozenset({"ACSC", "ACCC", "ACSP", "ACWC"})
REJECTED_STATUSES = frozenset({"RJCT"})
# Received, technically or profile-checked, or waiting: the money has not been committed.
PENDING_STATUSES = frozenset({"RCVD", "ACTC", "ACCP", "PDNG", "ACWP", "ACFC", "PATC"})
TRANSACTION_STATUSES = PAID_STATUSES | REJECTED_STATUSES | PENDING_STATUSES
# PART (partially accepted) describes a group or a block, never one transaction.
GROUP_STATUSES = TRANSACTION_STATUSES | {"PART"}


def status_outcome(code: str) -> Outcome:
    """The outcome of a transaction status code; raises InvalidInput for an unknown code."""
    if code in PAID_STATUSES:
        return Outcome.PAID
    if code in REJECTED_STATUSES:
        return Outcome.REJECTED
    if code in PENDING_STATUSES:
        return Outcome.PENDING
    _refuse(
        "status_code",
        f"unknown transaction status {code!r}; known are {', '.join(sorted(TRANSACTION_STATUSES))}",
        "Ask the bank which status it means before importing the report.",
    )


# --- validation -------------------------------------------------------------------------------


def _refuse(field: str, reason: str, advice: str) -> NoReturn:
    raise InvalidInput(f"{field}: {reason}. {advice}", errors=[{"field": field, "reason": reason}])


class _Problems:
    """Collects every problem of one object so a form can show them all at once."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.errors: list[dict[str, Any]] = []

    def add(self, field: str, reason: str) -> None:
        self.errors.append({"field": field, "reason": reason})

    def raise_any(self) -> None:
        if self.errors:
            listed = "; ".join(f"{error['field']}: {error['reason']}" for error in self.errors)
            raise InvalidInput(f"{self.subject} {listed}.", errors=self.errors)


def clean_text(value: object, *, max_length: int) -> str:
    """Text transliterated to the bank character set, whitespace collapsed.

    Returns the cleaned text; raises ValueError (with the reason) when it is not a string, is
    empty, is longer than `max_length` after cleaning, or keeps characters outside the set.
    """
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {type(value).__name__}")
    decomposed = unicodedata.normalize("NFKD", value.translate(_TRANSLITERATIONS))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    cleaned = " ".join(stripped.split())
    if not cleaned:
        raise ValueError("is empty; enter some text")
    refused = sorted({ch for ch in cleaned if not _ALLOWED_TEXT.fullmatch(ch)})
    if refused:
        shown = " ".join(repr(ch) for ch in refused)
        raise ValueError(
            f"contains characters banks do not accept ({shown}); use only {ALLOWED_CHARACTERS}"
        )
    if len(cleaned) > max_length:
        raise ValueError(f"is {len(cleaned)} characters long; shorten it to {max_length} or fewer")
    return cleaned


def check_identifier(value: object) -> str:
    """An ISO 20022 Max35Text reference in the bank character set, returned unchanged.

    Raises ValueError (with the reason) when it is not usable: identifiers are matched by the
    bank and by us, so they are never transliterated.
    """
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {type(value).__name__}")
    if not value:
        raise ValueError("is empty; give a reference of 1 to 35 characters")
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise ValueError(f"is {len(value)} characters long; use at most {MAX_IDENTIFIER_LENGTH}")
    if not _ALLOWED_TEXT.fullmatch(value):
        raise ValueError(f"may contain only {ALLOWED_CHARACTERS}")
    if value != value.strip():
        raise ValueError("starts or ends with a space; remove it")
    # EPC rule for SEPA references, which many banks apply to every reference.
    if value.startswith("/") or value.endswith("/") or "//" in value:
        raise ValueError("must not start or end with '/' nor contain '//'")
    return value


def normalise_iban(value: object) -> str:
    """The IBAN without spaces, upper-cased, once its format and ISO 13616 check digits hold.

    Raises ValueError (with the reason) otherwise.
    """
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {type(value).__name__}")
    compact = "".join(value.split()).upper()
    if not _IBAN_FORMAT.fullmatch(compact):
        raise ValueError(
            "is not an IBAN: expected a 2-letter country code, 2 check digits and 11 to 30 "
            "letters or digits; copy it again from the bank statement"
        )
    if compact[2:4] in {"00", "01", "99"}:
        raise ValueError("has check digits 00, 01 or 99, which no IBAN has; check the number")
    rearranged = compact[4:] + compact[:4]
    as_number = int("".join(str(int(character, 36)) for character in rearranged))
    if as_number % 97 != 1:
        raise ValueError(
            "fails the IBAN check digits (ISO 13616 mod 97): a character is mistyped; "
            "copy it again from the bank statement"
        )
    return compact


def normalise_bic(value: object) -> str:
    """The BIC upper-cased without spaces, once it has the ISO 9362 form (8 or 11 characters).

    Raises ValueError (with the reason) otherwise.
    """
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {type(value).__name__}")
    compact = "".join(value.split()).upper()
    if not _BIC_FORMAT.fullmatch(compact):
        raise ValueError(
            "is not a BIC: expected 8 or 11 letters and digits (bank, 2-letter country, "
            "location, optional branch), e.g. DEUTDEFF or DEUTDEFF500"
        )
    return compact


@dataclass(frozen=True)
class Party:
    """The paying agency (debtor) or a merchant (creditor) with its bank account.

    Construction cleans the name, normalises IBAN and BIC, and raises InvalidInput listing
    every field that cannot be used.
    """

    name: str
    iban: str
    bic: str

    def __post_init__(self) -> None:
        problems = _Problems("The bank details cannot be used:")
        for field, check in (
            ("name", lambda value: clean_text(value, max_length=MAX_NAME_LENGTH)),
            ("iban", normalise_iban),
            ("bic", normalise_bic),
        ):
            try:
                object.__setattr__(self, field, check(getattr(self, field)))
            except ValueError as error:
                problems.add(field, str(error))
        problems.raise_any()

    @property
    def bank_key(self) -> str:
        """The BIC in its 11-character form: DEUTDEFF and DEUTDEFFXXX are the same office."""
        return self.bic if len(self.bic) == 11 else self.bic + "XXX"


@dataclass(frozen=True)
class Payment:
    """One transfer to a merchant; construction checks and cleans it, raising InvalidInput."""

    end_to_end_id: str
    creditor: Party
    amount_minor: int
    remittance: str

    def __post_init__(self) -> None:
        problems = _Problems("The payment cannot be used:")
        try:
            check_identifier(self.end_to_end_id)
        except ValueError as error:
            problems.add("end_to_end_id", str(error))
        if not isinstance(self.creditor, Party):
            problems.add("creditor", "must be a Party with the merchant's name, IBAN and BIC")
        reason = _amount_problem(self.amount_minor)
        if reason:
            problems.add("amount_minor", reason)
        try:
            cleaned = clean_text(self.remittance, max_length=MAX_REMITTANCE_LENGTH)
            object.__setattr__(self, "remittance", cleaned)
        except ValueError as error:
            problems.add("remittance", str(error))
        problems.raise_any()


def _amount_problem(amount: object) -> str | None:
    # bool is an int subclass; True cents is a bug, not an amount.
    if isinstance(amount, bool) or not isinstance(amount, int):
        return f"must be a whole number of minor units (cents), not {type(amount).__name__}"
    if amount <= 0:
        return f"is {amount}; a payout must be more than zero"
    if amount >= AMOUNT_LIMIT:
        return (
            f"has more than {MAX_TOTAL_DIGITS} digits, the most an ISO 20022 amount can carry; "
            "pay it in several transfers"
        )
    return None


# --- pain.001 ---------------------------------------------------------------------------------


def format_amount(amount_minor: int, scale: int) -> str:
    """`amount_minor` as a decimal string with `scale` decimals: (13000, 2) → "130.00"."""
    sign = 1 if amount_minor < 0 else 0
    digits = tuple(int(digit) for digit in str(abs(amount_minor)))
    return format(Decimal((sign, digits, -scale)), "f")


def build_pain001(
    *,
    message_id: str,
    created_at: datetime,
    debtor: Party,
    payments: Sequence[Payment],
    currency: str,
    scale: int,
    execution_date: date,
) -> bytes:
    """A pain.001.001.09 credit-transfer file paying `payments` from the debtor's account.

    One payment-information block per creditor bank (by BIC, sorted), payments sorted by
    end-to-end id inside it, so the same input always gives the same bytes. Block ids are
    `<message_id>-<n>`. Returns the UTF-8 XML document.

    Raises InvalidInput when any argument is unusable: no payments, a duplicate end-to-end
    id, a bad currency code or scale, a naive `created_at`, control sums beyond 18 digits, or a
    message id too long to carry the block number.
    """
    try:
        check_identifier(message_id)
    except ValueError as error:
        _refuse("message_id", str(error), "Give the file a unique reference.")
    if not isinstance(created_at, datetime) or created_at.utcoffset() is None:
        _refuse(
            "created_at",
            "must be a datetime with a time zone",
            "Pass an aware datetime, e.g. datetime.now(UTC).",
        )
    if isinstance(execution_date, datetime) or not isinstance(execution_date, date):
        _refuse(
            "execution_date",
            "must be a date (without a time)",
            "Pass the day the bank should execute the transfers.",
        )
    if not isinstance(debtor, Party):
        _refuse("debtor", "must be a Party", "Pass the paying agency's name, IBAN and BIC.")
    if not isinstance(currency, str) or not _CURRENCY_FORMAT.fullmatch(currency):
        _refuse(
            "currency",
            f"{currency!r} is not an ISO 4217 code of three capital letters",
            "Use the code of the local currency, e.g. EUR.",
        )
    if isinstance(scale, bool) or not isinstance(scale, int) or not 0 <= scale <= MAX_SCALE:
        _refuse(
            "scale",
            f"{scale!r} is not a number of decimals from 0 to {MAX_SCALE}",
            "Use the currency's minor-unit exponent, e.g. 2 for cents.",
        )
    blocks = _group_by_bank(payments)
    total = sum(payment.amount_minor for block in blocks for payment in block)
    if total >= AMOUNT_LIMIT:
        _refuse(
            "payments",
            f"the control sum has more than {MAX_TOTAL_DIGITS} digits",
            "Split the payouts into several files.",
        )
    longest_block_id = len(f"{message_id}-{len(blocks)}")
    if longest_block_id > MAX_IDENTIFIER_LENGTH:
        allowed = MAX_IDENTIFIER_LENGTH - (longest_block_id - len(message_id))
        _refuse(
            "message_id",
            f"is too long to number {len(blocks)} payment blocks within 35 characters",
            f"Use a message id of at most {allowed} characters.",
        )

    root = Element("Document", {"xmlns": PAIN001_NAMESPACE})
    initiation = SubElement(root, "CstmrCdtTrfInitn")
    header = SubElement(initiation, "GrpHdr")
    _text(header, "MsgId", message_id)
    _text(header, "CreDtTm", created_at.replace(microsecond=0).isoformat())
    _text(header, "NbOfTxs", str(sum(len(block) for block in blocks)))
    _text(header, "CtrlSum", format_amount(total, scale))
    _text(SubElement(header, "InitgPty"), "Nm", debtor.name)

    for number, block in enumerate(blocks, start=1):
        information = SubElement(initiation, "PmtInf")
        _text(information, "PmtInfId", f"{message_id}-{number}")
        _text(information, "PmtMtd", "TRF")
        _text(information, "NbOfTxs", str(len(block)))
        _text(
            information,
            "CtrlSum",
            format_amount(sum(payment.amount_minor for payment in block), scale),
        )
        _text(SubElement(information, "ReqdExctnDt"), "Dt", execution_date.isoformat())
        _party(information, "Dbtr", "DbtrAcct", "DbtrAgt", debtor)
        for payment in block:
            transaction = SubElement(information, "CdtTrfTxInf")
            _text(SubElement(transaction, "PmtId"), "EndToEndId", payment.end_to_end_id)
            amount = SubElement(SubElement(transaction, "Amt"), "InstdAmt", {"Ccy": currency})
            amount.text = format_amount(payment.amount_minor, scale)
            _party(transaction, "Cdtr", "CdtrAcct", "CdtrAgt", payment.creditor)
            _text(SubElement(transaction, "RmtInf"), "Ustrd", payment.remittance)

    indent(root, space="  ")
    document: bytes = tostring(root, encoding="UTF-8", xml_declaration=True)
    return document + b"\n"


def _group_by_bank(payments: object) -> list[list[Payment]]:
    if isinstance(payments, str | bytes) or not isinstance(payments, Iterable):
        _refuse("payments", "must be a list of Payment", "Pass the payouts to include.")
    listed = list(payments)
    if not listed:
        _refuse(
            "payments",
            "is empty; a payout file needs at least one payment",
            "Only export when there is something to pay.",
        )
    seen: dict[str, int] = {}
    by_bank: dict[str, list[Payment]] = {}
    for index, payment in enumerate(listed):
        if not isinstance(payment, Payment):
            _refuse(
                f"payments[{index}]",
                f"is a {type(payment).__name__}, not a Payment",
                "Build each payout with Payment(...).",
            )
        if payment.end_to_end_id in seen:
            first = seen[payment.end_to_end_id]
            _refuse(
                f"payments[{index}].end_to_end_id",
                f"{payment.end_to_end_id!r} is also used by payments[{first}]",
                "Give every payment its own end-to-end id: the bank reports status by it.",
            )
        seen[payment.end_to_end_id] = index
        by_bank.setdefault(payment.creditor.bank_key, []).append(payment)
    return [
        sorted(by_bank[bank], key=lambda payment: payment.end_to_end_id) for bank in sorted(by_bank)
    ]


def _text(parent: Element, tag: str, value: str) -> Element:
    element = SubElement(parent, tag)
    element.text = value
    return element


def _party(parent: Element, party_tag: str, account_tag: str, agent_tag: str, party: Party) -> None:
    # The XSD orders debtor as party, account, agent but creditor as agent, party, account.
    def agent() -> None:
        _text(SubElement(SubElement(parent, agent_tag), "FinInstnId"), "BICFI", party.bic)

    if party_tag == "Cdtr":
        agent()
    _text(SubElement(parent, party_tag), "Nm", party.name)
    _text(SubElement(SubElement(parent, account_tag), "Id"), "IBAN", party.iban)
    if party_tag == "Dbtr":
        agent()


# --- pain.002 ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentStatus:
    """The bank's status for one payment, found by the end-to-end id we sent."""

    end_to_end_id: str
    outcome: Outcome
    status_code: str
    reason_code: str | None
    reason: str | None


@dataclass(frozen=True)
class StatusReport:
    """A parsed pain.002: whose file it answers, the group status, the per-payment statuses.

    `statuses` is empty when the group status is RJCT (the whole file was refused: reject
    every payment of `original_message_id`) or a pending acknowledgement such as ACTC.
    """

    message_id: str
    original_message_id: str
    group_status: str | None
    statuses: tuple[PaymentStatus, ...]


def parse_pain002(data: bytes) -> StatusReport:
    """The status report in `data`, an untrusted pain.002.001.10 or .001.03 document.

    Raises InvalidInput when the input is larger than 20 MiB, is not well-formed XML, declares
    a DTD or entities, is another kind of document, lacks the original message id, uses a
    status code we do not know, repeats an end-to-end id, or reports a final status for a
    group or block without listing its transactions.
    """
    if not isinstance(data, bytes | bytearray):
        _refuse("file", f"must be bytes, not {type(data).__name__}", "Pass the file as uploaded.")
    if len(data) > MAX_STATUS_REPORT_BYTES:
        _refuse(
            "file",
            f"is {len(data):,} bytes; status reports over {MAX_STATUS_REPORT_BYTES:,} are refused",
            "Ask the bank for the report in smaller files.",
        )
    try:
        root: Element = parse_untrusted_xml(bytes(data), forbid_dtd=True)
    except defusedxml.DefusedXmlException as error:
        _refuse(
            "file",
            f"declares a DTD or entities ({type(error).__name__}), which are refused because "
            "they can expand without bound or read other files",
            "Ask the bank for the report without a DOCTYPE.",
        )
    except ParseError as error:
        _refuse(
            "file",
            f"is not well-formed XML ({error})",
            "Check the upload is the bank's pain.002 file, complete and unedited.",
        )

    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    if namespace not in PAIN002_NAMESPACES or root.tag != f"{{{namespace}}}Document":
        _refuse(
            "file",
            f"is not a pain.002.001.10 or pain.002.001.03 status report (root {root.tag!r})",
            "Upload the bank's payment status report for a payout file.",
        )
    reader = _Reader(namespace)
    report = reader.child(root, "CstmrPmtStsRpt")
    if report is None:
        _refuse("CstmrPmtStsRpt", "is missing", "Upload the bank's payment status report.")
    message_id = reader.text(report, "GrpHdr/MsgId")
    if message_id is None:
        _refuse("GrpHdr/MsgId", "is missing", "The report is incomplete; ask the bank for it.")
    original = reader.child(report, "OrgnlGrpInfAndSts")
    original_message_id = None if original is None else reader.text(original, "OrgnlMsgId")
    if original is None or original_message_id is None:
        _refuse(
            "OrgnlGrpInfAndSts/OrgnlMsgId",
            "is missing, so the report cannot be matched to a payout file",
            "Ask the bank for a report that names the original message.",
        )
    original_kind = reader.text(original, "OrgnlMsgNmId")
    if original_kind is not None and not original_kind.startswith("pain.001"):
        _refuse(
            "OrgnlGrpInfAndSts/OrgnlMsgNmId",
            f"the report answers a {original_kind} message, not a pain.001 credit transfer",
            "Upload the report for a payout file.",
        )
    group_status = reader.text(original, "GrpSts")
    if group_status is not None and group_status not in GROUP_STATUSES:
        _refuse(
            "OrgnlGrpInfAndSts/GrpSts",
            f"unknown group status {group_status!r}",
            "Ask the bank which status it means before importing the report.",
        )

    statuses: list[PaymentStatus] = []
    seen: set[str] = set()
    for block in reader.children(report, "OrgnlPmtInfAndSts"):
        block_id = reader.text(block, "OrgnlPmtInfId") or "?"
        block_status = reader.text(block, "PmtInfSts")
        if block_status is not None and block_status not in GROUP_STATUSES:
            _refuse(
                f"OrgnlPmtInfAndSts[{block_id}]/PmtInfSts",
                f"unknown status {block_status!r}",
                "Ask the bank which status it means before importing the report.",
            )
        transactions = reader.children(block, "TxInfAndSts")
        if not transactions and block_status not in PENDING_STATUSES | {None}:
            _refuse(
                f"OrgnlPmtInfAndSts[{block_id}]",
                f"has status {block_status} but lists no transactions",
                "Ask the bank for a report with a status for every transaction.",
            )
        for transaction in transactions:
            status = reader.payment_status(transaction, block_status or group_status)
            if status.end_to_end_id in seen:
                _refuse(
                    "TxInfAndSts/OrgnlEndToEndId",
                    f"{status.end_to_end_id!r} appears more than once",
                    "Ask the bank for a corrected report.",
                )
            seen.add(status.end_to_end_id)
            statuses.append(status)

    if not statuses and group_status not in REJECTED_STATUSES | PENDING_STATUSES:
        _refuse(
            "OrgnlPmtInfAndSts",
            f"the report has group status {group_status or 'none'} but no transaction "
            "statuses; payouts are settled one transaction at a time",
            "Ask the bank for a report with a status for every transaction.",
        )
    return StatusReport(
        message_id=message_id,
        original_message_id=original_message_id,
        group_status=group_status,
        statuses=tuple(statuses),
    )


class _Reader:
    """Finds elements of one pain.002 namespace by plain paths like "GrpHdr/MsgId"."""

    def __init__(self, namespace: str) -> None:
        self.namespaces = {"p": namespace}

    def _path(self, path: str) -> str:
        return "/".join(f"p:{step}" for step in path.split("/"))

    def child(self, parent: Element, path: str) -> Element | None:
        return parent.find(self._path(path), self.namespaces)

    def children(self, parent: Element, path: str) -> list[Element]:
        return parent.findall(self._path(path), self.namespaces)

    def text(self, parent: Element, path: str) -> str | None:
        element = self.child(parent, path)
        if element is None or element.text is None:
            return None
        return element.text.strip() or None

    def payment_status(self, transaction: Element, inherited_status: str | None) -> PaymentStatus:
        end_to_end_id = self.text(transaction, "OrgnlEndToEndId")
        if end_to_end_id is None:
            _refuse(
                "TxInfAndSts/OrgnlEndToEndId",
                "is missing, so the status cannot be matched to a payout",
                "Ask the bank for a report that names every transaction.",
            )
        code = self.text(transaction, "TxSts") or inherited_status
        if code is None:
            _refuse(
                f"TxInfAndSts[{end_to_end_id}]/TxSts",
                "is missing and neither the block nor the group has a status",
                "Ask the bank for a report with a status for every transaction.",
            )
        if code not in TRANSACTION_STATUSES:
            _refuse(
                f"TxInfAndSts[{end_to_end_id}]/TxSts",
                f"unknown transaction status {code!r}",
                "Ask the bank which status it means before importing the report.",
            )
        reason_information = self.child(transaction, "StsRsnInf")
        reason_code = reason = None
        if reason_information is not None:
            reason_code = self.text(reason_information, "Rsn/Cd") or self.text(
                reason_information, "Rsn/Prtry"
            )
            details = [
                element.text.strip()
                for element in self.children(reason_information, "AddtlInf")
                if element.text and element.text.strip()
            ]
            reason = " ".join(details) or None
        return PaymentStatus(
            end_to_end_id=end_to_end_id,
            outcome=status_outcome(code),
            status_code=code,
            reason_code=reason_code,
            reason=reason,
        )
