"""ISO 20022 payout files: pain.001 we write, pain.002 we read (plain Python)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from importlib.resources import files
from typing import Any
from xml.etree.ElementTree import Element, fromstring

import pytest
import xmlschema
from hypothesis import given, settings
from hypothesis import strategies as st

from fairshare.errors import InvalidInput
from fairshare.ledger.iso20022 import (
    AMOUNT_LIMIT,
    MAX_STATUS_REPORT_BYTES,
    PAIN001_NAMESPACE,
    Outcome,
    Party,
    Payment,
    PaymentStatus,
    StatusReport,
    build_pain001,
    format_amount,
    parse_pain002,
    status_outcome,
)
from tests.unit.ledger.status_reports import (
    ReportedBlock,
    ReportedTransaction,
    build_pain002,
    transactions_report,
)

NS = {"p": PAIN001_NAMESPACE}
CREATED = datetime(2025, 1, 31, 10, 0, 0, tzinfo=UTC)
EXECUTION = date(2025, 2, 3)
AGENCY = Party("Agencia de Protección Social", "ES91 2100 0418 4502 0005 1332", "CAIXESBBXXX")
PHARMACY = Party("Farmacia Peña", "GB82WEST12345698765432", "WESTGB2L")
BAKERY = Party("Panadería Westminster", "GB33BUKB20201555555555", "BUKBGB22")
FUEL = Party("Tankstelle Müller", "DE89370400440532013000", "DEUTDEFF")
# The same bank office as FUEL, written with the explicit XXX branch.
GROCER = Party("Lebensmittel Schmidt", "DE75512108001245126199", "DEUTDEFFXXX")

VALID_IBANS = [
    "GB82WEST12345698765432",
    "DE89370400440532013000",
    "ES9121000418450200051332",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    "BE68539007547034",
    "IT60X0542811101000000123456",
    "CH9300762011623852957",
    "AT611904300234573201",
]


def e2e(number: int) -> str:
    """A 32-hex transfer id, as the ledger passes."""
    return f"{number:032x}"


def build(payments: list[Payment], **overrides: Any) -> bytes:
    arguments: dict[str, Any] = {
        "message_id": "PAYOUT-2025-01",
        "created_at": CREATED,
        "debtor": AGENCY,
        "payments": payments,
        "currency": "EUR",
        "scale": 2,
        "execution_date": EXECUTION,
    }
    arguments.update(overrides)
    return build_pain001(**arguments)


def sample_payments() -> list[Payment]:
    return [
        Payment(e2e(3), PHARMACY, 13000, "Canjes enero 2025"),
        Payment(e2e(1), FUEL, 4550, "Combustible enero"),
        Payment(e2e(2), PHARMACY, 1, "Ajuste"),
        Payment(e2e(4), BAKERY, 250_075, "Cestas enero"),
        Payment(e2e(5), GROCER, 990, "Cesta"),
    ]


def parse_xml(document: bytes) -> Element:
    return fromstring(document)  # noqa: S314 - our own output, not untrusted input


def texts(element: Element, path: str) -> list[str]:
    return [found.text or "" for found in element.findall(path, NS)]


def one(element: Element, path: str) -> str:
    found = element.find(path, NS)
    assert found is not None, path
    return found.text or ""


def to_minor(text: str, scale: int = 2) -> int:
    return int(Decimal(text).scaleb(scale))


@cache
def pain001_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(files("sepaxml") / "schemas" / "pain.001.001.09.xsd"))


def refusal(call: Any, *arguments: Any, **keywords: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call(*arguments, **keywords)
    return caught.value


def refused_fields(error: InvalidInput) -> set[str]:
    return {entry["field"] for entry in error.errors}


# --- pain.001 structure -----------------------------------------------------------------------


def test_file_has_the_pain001_v09_structure() -> None:
    """Header, blocks and transactions carry the elements of pain.001.001.09, in schema order."""
    root = parse_xml(build(sample_payments()))
    assert root.tag == f"{{{PAIN001_NAMESPACE}}}Document"
    initiation = root.find("p:CstmrCdtTrfInitn", NS)
    assert initiation is not None
    header = initiation.find("p:GrpHdr", NS)
    assert header is not None
    assert [child.tag.split("}")[1] for child in header] == [
        "MsgId",
        "CreDtTm",
        "NbOfTxs",
        "CtrlSum",
        "InitgPty",
    ]
    assert one(header, "p:MsgId") == "PAYOUT-2025-01"
    assert one(header, "p:CreDtTm") == "2025-01-31T10:00:00+00:00"
    assert one(header, "p:NbOfTxs") == "5"
    assert one(header, "p:InitgPty/p:Nm") == "Agencia de Proteccion Social"

    block = initiation.find("p:PmtInf", NS)
    assert block is not None
    assert [child.tag.split("}")[1] for child in block][:8] == [
        "PmtInfId",
        "PmtMtd",
        "NbOfTxs",
        "CtrlSum",
        "ReqdExctnDt",
        "Dbtr",
        "DbtrAcct",
        "DbtrAgt",
    ]
    assert one(block, "p:PmtMtd") == "TRF"
    assert one(block, "p:ReqdExctnDt/p:Dt") == "2025-02-03"
    assert one(block, "p:Dbtr/p:Nm") == "Agencia de Proteccion Social"
    assert one(block, "p:DbtrAcct/p:Id/p:IBAN") == "ES9121000418450200051332"
    assert one(block, "p:DbtrAgt/p:FinInstnId/p:BICFI") == "CAIXESBBXXX"

    transaction = block.find("p:CdtTrfTxInf", NS)
    assert transaction is not None
    assert [child.tag.split("}")[1] for child in transaction] == [
        "PmtId",
        "Amt",
        "CdtrAgt",
        "Cdtr",
        "CdtrAcct",
        "RmtInf",
    ]
    amount = transaction.find("p:Amt/p:InstdAmt", NS)
    assert amount is not None
    assert amount.get("Ccy") == "EUR"


def test_transaction_carries_the_payment() -> None:
    """Each transaction holds its end-to-end id, amount, creditor bank, name, IBAN and text."""
    root = parse_xml(build([Payment(e2e(7), PHARMACY, 13000, "Canjes enero 2025")]))
    transaction = root.find(".//p:CdtTrfTxInf", NS)
    assert transaction is not None
    assert one(transaction, "p:PmtId/p:EndToEndId") == e2e(7)
    assert one(transaction, "p:Amt/p:InstdAmt") == "130.00"
    assert one(transaction, "p:CdtrAgt/p:FinInstnId/p:BICFI") == "WESTGB2L"
    assert one(transaction, "p:Cdtr/p:Nm") == "Farmacia Pena"
    assert one(transaction, "p:CdtrAcct/p:Id/p:IBAN") == "GB82WEST12345698765432"
    assert one(transaction, "p:RmtInf/p:Ustrd") == "Canjes enero 2025"


@pytest.mark.parametrize(
    ("amount", "scale", "expected"),
    [
        (13000, 2, "130.00"),
        (5, 2, "0.05"),
        (100, 2, "1.00"),
        (13000, 0, "13000"),
        (1, 3, "0.001"),
        (123456789, 5, "1234.56789"),
        (999_999_999_999_999_999, 2, "9999999999999999.99"),
    ],
)
def test_amount_formatting(amount: int, scale: int, expected: str) -> None:
    """Integer minor units become a decimal string with exactly `scale` decimals."""
    assert format_amount(amount, scale) == expected


@pytest.mark.parametrize(("currency", "scale", "text"), [("JPY", 0, "13000"), ("BHD", 3, "13.000")])
def test_currency_and_scale_reach_the_file(currency: str, scale: int, text: str) -> None:
    """The currency code and the number of decimals come from the caller."""
    root = parse_xml(build([Payment(e2e(1), PHARMACY, 13000, "x")], currency=currency, scale=scale))
    amount = root.find(".//p:InstdAmt", NS)
    assert amount is not None
    assert amount.get("Ccy") == currency
    assert amount.text == text
    assert one(root, ".//p:GrpHdr/p:CtrlSum") == text


def test_control_sums_per_block_and_group() -> None:
    """Each block's CtrlSum and NbOfTxs sum its payments; the header sums them all."""
    payments = sample_payments()
    root = parse_xml(build(payments))
    blocks = root.findall(".//p:PmtInf", NS)
    for block in blocks:
        amounts = [to_minor(text) for text in texts(block, "p:CdtTrfTxInf/p:Amt/p:InstdAmt")]
        assert to_minor(one(block, "p:CtrlSum")) == sum(amounts)
        assert int(one(block, "p:NbOfTxs")) == len(amounts)
    total = sum(payment.amount_minor for payment in payments)
    assert to_minor(one(root, ".//p:GrpHdr/p:CtrlSum")) == total == 268_616
    assert one(root, ".//p:GrpHdr/p:CtrlSum") == "2686.16"
    assert sum(to_minor(one(block, "p:CtrlSum")) for block in blocks) == total


def test_one_block_per_creditor_bank_sorted_by_bic() -> None:
    """Payments are grouped by creditor BIC (8 and 11-character forms alike), blocks by BIC."""
    root = parse_xml(build(sample_payments()))
    blocks = root.findall(".//p:PmtInf", NS)
    banks = [
        sorted(set(texts(block, "p:CdtTrfTxInf/p:CdtrAgt/p:FinInstnId/p:BICFI")))
        for block in blocks
    ]
    assert banks == [["BUKBGB22"], ["DEUTDEFF", "DEUTDEFFXXX"], ["WESTGB2L"]]
    assert [one(block, "p:PmtInfId") for block in blocks] == [
        "PAYOUT-2025-01-1",
        "PAYOUT-2025-01-2",
        "PAYOUT-2025-01-3",
    ]
    ids_per_block = [texts(block, "p:CdtTrfTxInf/p:PmtId/p:EndToEndId") for block in blocks]
    assert ids_per_block == [[e2e(4)], [e2e(1), e2e(5)], [e2e(2), e2e(3)]]


def test_same_input_gives_identical_bytes() -> None:
    """The file depends on the payments, not on the order they were passed in."""
    payments = sample_payments()
    first = build(payments)
    assert build(list(reversed(payments))) == first
    assert build(payments[2:] + payments[:2]) == first
    assert first.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<Document xmlns=")


def test_largest_amount_is_exact() -> None:
    """An 18-digit amount, the most ISO 20022 allows, is written to the last cent."""
    largest = AMOUNT_LIMIT - 1
    document = build([Payment(e2e(1), PHARMACY, largest, "x")])
    root = parse_xml(document)
    assert one(root, ".//p:InstdAmt") == "9999999999999999.99"
    assert one(root, ".//p:GrpHdr/p:CtrlSum") == "9999999999999999.99"
    assert to_minor(one(root, ".//p:InstdAmt")) == largest
    pain001_schema().validate(document.decode())


def test_large_sums_are_exact() -> None:
    """Control sums of large amounts keep every digit (no float rounding)."""
    amounts = [123_456_789_012_345_678, 876_543_210_987_654_320, 1]
    document = build([Payment(e2e(i), PHARMACY, amount, "x") for i, amount in enumerate(amounts)])
    assert one(parse_xml(document), ".//p:GrpHdr/p:CtrlSum") == "9999999999999999.99"


def test_int64_max_is_refused_with_the_digit_limit() -> None:
    """9,223,372,036,854,775,807 cents has 19 digits, more than an ISO 20022 amount holds."""
    error = refusal(Payment, e2e(1), PHARMACY, 9_223_372_036_854_775_807, "x")
    assert refused_fields(error) == {"amount_minor"}
    assert "18 digits" in error.message


def test_control_sum_beyond_18_digits_is_refused() -> None:
    """Amounts that fit alone but not summed are refused, asking to split the file."""
    payments = [Payment(e2e(i), PHARMACY, AMOUNT_LIMIT - 1, "x") for i in range(2)]
    error = refusal(build, payments)
    assert refused_fields(error) == {"payments"}
    assert "Split" in error.message


def test_generated_files_validate_against_the_official_schema() -> None:
    """The file validates against ISO 20022's pain.001.001.09 XSD."""
    schema = pain001_schema()
    schema.validate(build(sample_payments()).decode())
    single = build([Payment(e2e(1), FUEL, 1, "Ajuste")], currency="JPY", scale=0)
    schema.validate(single.decode())


def test_schema_check_is_real() -> None:
    """The schema test would catch a broken file: a wrong element order fails validation."""
    broken = build(sample_payments()).replace(b"<PmtMtd>TRF</PmtMtd>", b"<PmtMtd>XXX</PmtMtd>")
    assert not pain001_schema().is_valid(broken.decode())


# --- text cleaning ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_name", "cleaned"),
    [
        ("Peña", "Pena"),
        ("José Núñez Ibáñez", "Jose Nunez Ibanez"),
        ("Müller & Söhne", "Muller + Sohne"),
        ("Große Straße", "Grosse Strasse"),
        ("Łódź Ærø", "Lodz AEro"),
        ("O’Brien “Fuel”", "O'Brien 'Fuel'"),
        ("Nº 1ª  planta\n centro", "No 1a planta centro"),
        ("  Farmacia   Central ", "Farmacia Central"),
    ],
)
def test_names_are_transliterated(given_name: str, cleaned: str) -> None:
    """Accents and common Latin letters become ASCII; whitespace is collapsed."""
    assert Party(given_name, VALID_IBANS[0], "WESTGB2L").name == cleaned


def test_remittance_is_transliterated() -> None:
    """Remittance text is cleaned like names."""
    payment = Payment(e2e(1), PHARMACY, 1, "Canjes de medicación, año 2025")
    assert payment.remittance == "Canjes de medicacion, ano 2025"


@pytest.mark.parametrize("text", ["Café ☕", "info@farmacia", "Аптека", "Tienda #4", "50%", "a_b"])
def test_characters_outside_the_bank_set_are_refused(text: str) -> None:
    """What transliteration cannot turn into the bank character set is refused and named."""
    error = refusal(Party, text, VALID_IBANS[0], "WESTGB2L")
    assert refused_fields(error) == {"name"}
    assert "characters banks do not accept" in error.message
    error = refusal(Payment, e2e(1), PHARMACY, 1, text)
    assert refused_fields(error) == {"remittance"}


def test_name_length_is_counted_after_cleaning() -> None:
    """70 characters after cleaning pass; a ß that becomes ss can push a name over."""
    assert len(Party("Ñ" * 70, VALID_IBANS[0], "WESTGB2L").name) == 70
    error = refusal(Party, "a" * 69 + "ß", VALID_IBANS[0], "WESTGB2L")
    assert refused_fields(error) == {"name"}
    assert "71 characters" in error.message
    assert "70 or fewer" in error.message


def test_remittance_longer_than_140_is_refused() -> None:
    """Unstructured remittance holds 140 characters at most."""
    assert len(Payment(e2e(1), PHARMACY, 1, "x" * 140).remittance) == 140
    error = refusal(Payment, e2e(1), PHARMACY, 1, "x" * 141)
    assert refused_fields(error) == {"remittance"}


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_texts_are_refused(text: str) -> None:
    """A party needs a name and a payment a remittance text."""
    assert refused_fields(refusal(Party, text, VALID_IBANS[0], "WESTGB2L")) == {"name"}
    assert refused_fields(refusal(Payment, e2e(1), PHARMACY, 1, text)) == {"remittance"}


# --- IBAN and BIC -----------------------------------------------------------------------------


@pytest.mark.parametrize("iban", VALID_IBANS)
def test_valid_ibans_are_accepted(iban: str) -> None:
    """Real example IBANs of several countries pass the mod-97 check."""
    assert Party("Tienda", iban, "WESTGB2L").iban == iban


def test_iban_is_compacted_and_upper_cased() -> None:
    """Spaces are removed and letters upper-cased, as printed on statements."""
    party = Party("Tienda", "gb82 west 1234 5698 7654 32", "westgb2l")
    assert party.iban == "GB82WEST12345698765432"
    assert party.bic == "WESTGB2L"


@pytest.mark.parametrize("iban", VALID_IBANS[:3])
def test_any_single_changed_digit_is_refused(iban: str) -> None:
    """Changing any one digit (check digits or account) fails the ISO 13616 check."""
    for position, character in enumerate(iban):
        if position < 2 or not character.isdigit():
            continue
        changed = iban[:position] + str((int(character) + 1) % 10) + iban[position + 1 :]
        error = refusal(Party, "Tienda", changed, "WESTGB2L")
        assert refused_fields(error) == {"iban"}, changed
        assert "check digits" in error.message


@pytest.mark.parametrize(
    "iban",
    [
        "GB82WEST1234569876543",  # a digit dropped
        "DE00370400440532013000",  # check digits 00 never occur
        "DE01370400440532013000",
        "DE99370400440532013000",
        "GBXXWEST12345698765432",
        "82WEST12345698765432",
        "GB82",
        "GB82WEST1234569876543!",
        "",
    ],
)
def test_malformed_ibans_are_refused(iban: str) -> None:
    """Strings that are not IBANs, or fail the check, are refused on the iban field."""
    assert refused_fields(refusal(Party, "Tienda", iban, "WESTGB2L")) == {"iban"}


@pytest.mark.parametrize("bic", ["DEUTDEFF", "DEUTDEFF500", "deutdeffxxx", "BOFA US 3N"])
def test_valid_bics_are_accepted(bic: str) -> None:
    """8 and 11-character BICs pass, upper-cased and without spaces."""
    assert Party("Tienda", VALID_IBANS[0], bic).bic == bic.replace(" ", "").upper()


@pytest.mark.parametrize(
    "bic", ["DEUTDEF", "DEUTDEFF5", "DEUTDEFF50", "DEUT12FF", "DEUTDEFF-00", ""]
)
def test_bad_bics_are_refused(bic: str) -> None:
    """BICs of the wrong length or with a non-letter country code are refused."""
    error = refusal(Party, "Tienda", VALID_IBANS[0], bic)
    assert refused_fields(error) == {"bic"}
    assert "8 or 11" in error.message


def test_party_reports_every_bad_field_at_once() -> None:
    """A form gets all its problems in one refusal."""
    error = refusal(Party, "", "GB00", "nope")
    assert refused_fields(error) == {"name", "iban", "bic"}


@pytest.mark.parametrize(
    ("name", "iban", "bic"),
    [(None, VALID_IBANS[0], "WESTGB2L"), ("T", 12, "WESTGB2L"), ("T", VALID_IBANS[0], b"X")],
)
def test_non_text_party_fields_are_refused(name: Any, iban: Any, bic: Any) -> None:
    """Party fields must be strings."""
    assert "must be text" in refusal(Party, name, iban, bic).message


# --- payments and the file's arguments --------------------------------------------------------


@pytest.mark.parametrize("amount", [0, -1, -13000, 1.5, 130.0, True, False, "13000", Decimal(5)])
def test_non_positive_or_non_integer_amounts_are_refused(amount: Any) -> None:
    """Amounts are positive ints of minor units: no floats, Decimals, strings or bools."""
    error = refusal(Payment, e2e(1), PHARMACY, amount, "x")
    assert refused_fields(error) == {"amount_minor"}


@pytest.mark.parametrize(
    "end_to_end_id",
    ["", "x" * 36, "tx_1", "tx 1 ", "/tx1", "tx1/", "tx//1", "pago-ñ", 12345],
)
def test_bad_end_to_end_ids_are_refused(end_to_end_id: Any) -> None:
    """End-to-end ids are 1 to 35 characters of the bank set, never rewritten."""
    error = refusal(Payment, end_to_end_id, PHARMACY, 1, "x")
    assert refused_fields(error) == {"end_to_end_id"}


def test_end_to_end_id_of_35_allowed_characters_is_kept() -> None:
    """The full allowed set and length pass unchanged."""
    identifier = "Ab9/-?:().,'+ Z" + "0" * 20
    assert Payment(identifier, PHARMACY, 1, "x").end_to_end_id == identifier


def test_payment_needs_a_party_as_creditor() -> None:
    """The creditor must be a validated Party."""
    assert refused_fields(refusal(Payment, e2e(1), "Farmacia", 1, "x")) == {"creditor"}


def test_payment_is_frozen() -> None:
    """Payments cannot be changed after they were checked."""
    payment = Payment(e2e(1), PHARMACY, 1, "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        payment.amount_minor = 2  # type: ignore[misc]


def test_empty_payment_list_is_refused() -> None:
    """A file with nothing to pay is refused."""
    error = refusal(build, [])
    assert refused_fields(error) == {"payments"}
    assert "at least one payment" in error.message


def test_duplicate_end_to_end_ids_are_refused() -> None:
    """Two payments with one end-to-end id could not be told apart in the bank's report."""
    payments = [
        Payment(e2e(1), PHARMACY, 100, "x"),
        Payment(e2e(2), FUEL, 100, "x"),
        Payment(e2e(1), FUEL, 200, "y"),
    ]
    error = refusal(build, payments)
    assert refused_fields(error) == {"payments[2].end_to_end_id"}
    assert "payments[0]" in error.message


def test_non_payment_items_are_refused() -> None:
    """Only Payment objects can be exported."""
    error = refusal(build, [Payment(e2e(1), PHARMACY, 1, "x"), {"amount": 1}])
    assert refused_fields(error) == {"payments[1]"}
    assert refused_fields(refusal(build, "payments")) == {"payments"}


@pytest.mark.parametrize("currency", ["eur", "EURO", "EU", "E1R", "", None, "€"])
def test_bad_currency_codes_are_refused(currency: Any) -> None:
    """Currency codes are three capital letters."""
    error = refusal(build, sample_payments(), currency=currency)
    assert refused_fields(error) == {"currency"}


@pytest.mark.parametrize("scale", [-1, 6, True, 2.0, "2"])
def test_bad_scales_are_refused(scale: Any) -> None:
    """ISO 20022 amounts have 0 to 5 decimals."""
    assert refused_fields(refusal(build, sample_payments(), scale=scale)) == {"scale"}


def test_naive_creation_time_is_refused() -> None:
    """The creation time needs a time zone so the bank reads the right instant."""
    error = refusal(build, sample_payments(), created_at=datetime(2025, 1, 31, 10, 0))
    assert refused_fields(error) == {"created_at"}


def test_creation_time_keeps_its_offset_without_microseconds() -> None:
    """CreDtTm is the given instant at second precision with its UTC offset."""
    created = datetime(2025, 1, 31, 10, 0, 5, 123456, tzinfo=timezone(timedelta(hours=-5)))
    root = parse_xml(build(sample_payments(), created_at=created))
    assert one(root, ".//p:CreDtTm") == "2025-01-31T10:00:05-05:00"


def test_execution_date_must_be_a_date() -> None:
    """A datetime is refused as execution date: banks execute on days."""
    error = refusal(build, sample_payments(), execution_date=CREATED)
    assert refused_fields(error) == {"execution_date"}


@pytest.mark.parametrize("message_id", ["", "x" * 36, "payout_1", "/payout"])
def test_bad_message_ids_are_refused(message_id: str) -> None:
    """The message id is a Max35Text reference of the bank set."""
    assert refused_fields(refusal(build, sample_payments(), message_id=message_id)) == {
        "message_id"
    }


def test_message_id_must_leave_room_for_block_numbers() -> None:
    """Block ids are <message id>-<n>; a message id too long for that is refused with the limit."""
    payments = sample_payments()  # three banks: "-3" needs two characters
    assert build(payments, message_id="m" * 33)
    error = refusal(build, payments, message_id="m" * 34)
    assert refused_fields(error) == {"message_id"}
    assert "at most 33 characters" in error.message


def test_debtor_must_be_a_party() -> None:
    """The paying agency is a validated Party."""
    assert refused_fields(refusal(build, sample_payments(), debtor="Agencia")) == {"debtor"}


def test_refusals_say_what_to_do() -> None:
    """Messages name the field, the problem and the fix."""
    error = refusal(Party, "Tienda", "GB82WEST12345698765433", "WESTGB2L")
    assert error.message.startswith("The bank details cannot be used: iban:")
    assert "copy it again" in error.message
    assert error.errors == [{"field": "iban", "reason": error.errors[0]["reason"]}]


# --- pain.002 ---------------------------------------------------------------------------------

EXPECTED_OUTCOMES = {
    "ACSC": Outcome.PAID,
    "ACCC": Outcome.PAID,
    "ACSP": Outcome.PAID,
    "ACWC": Outcome.PAID,
    "RJCT": Outcome.REJECTED,
    "RCVD": Outcome.PENDING,
    "ACTC": Outcome.PENDING,
    "ACCP": Outcome.PENDING,
    "PDNG": Outcome.PENDING,
    "ACWP": Outcome.PENDING,
    "ACFC": Outcome.PENDING,
    "PATC": Outcome.PENDING,
}


@pytest.mark.parametrize("version", ["10", "03"])
@pytest.mark.parametrize(("code", "outcome"), sorted(EXPECTED_OUTCOMES.items()))
def test_each_transaction_status_maps_to_an_outcome(
    version: str, code: str, outcome: Outcome
) -> None:
    """Settled or accepted for settlement is paid, RJCT rejected, the rest pending."""
    report = parse_pain002(transactions_report([(e2e(1), code)], version=version))
    assert report.statuses == (PaymentStatus(e2e(1), outcome, code, None, None),)
    assert status_outcome(code) is outcome


def test_report_names_itself_and_the_original_file() -> None:
    """The report's own id, the payout file's id and the group status are returned."""
    document = build_pain002(
        message_id="BANK-STS-77",
        original_message_id="PAYOUT-2025-01",
        group_status="PART",
        blocks=[
            ReportedBlock(
                "PAYOUT-2025-01-1",
                transactions=(
                    ReportedTransaction(e2e(1), "ACSC"),
                    ReportedTransaction(
                        e2e(2), "RJCT", "AC04", None, ("Account closed", "since 2024-12-01")
                    ),
                ),
            ),
            ReportedBlock(
                "PAYOUT-2025-01-2",
                transactions=(ReportedTransaction(e2e(3), "RJCT", None, "NAME-MISMATCH"),),
            ),
        ],
    )
    assert parse_pain002(document) == StatusReport(
        message_id="BANK-STS-77",
        original_message_id="PAYOUT-2025-01",
        group_status="PART",
        statuses=(
            PaymentStatus(e2e(1), Outcome.PAID, "ACSC", None, None),
            PaymentStatus(
                e2e(2), Outcome.REJECTED, "RJCT", "AC04", "Account closed since 2024-12-01"
            ),
            PaymentStatus(e2e(3), Outcome.REJECTED, "RJCT", "NAME-MISMATCH", None),
        ),
    )


@pytest.mark.parametrize("version", ["10", "03"])
def test_group_rejection_without_transactions(version: str) -> None:
    """A rejected file comes back as group status RJCT with no transactions: reject them all."""
    report = parse_pain002(build_pain002(group_status="RJCT", version=version))
    assert report.group_status == "RJCT"
    assert report.statuses == ()
    assert report.original_message_id == "PAYOUT-2025-01"


@pytest.mark.parametrize("code", ["ACTC", "RCVD", "ACCP", "PDNG"])
def test_pending_acknowledgement_without_transactions(code: str) -> None:
    """A bank's receipt acknowledgement changes nothing: no transaction statuses."""
    report = parse_pain002(build_pain002(group_status=code))
    assert report.group_status == code
    assert report.statuses == ()


@pytest.mark.parametrize("code", ["ACSC", "ACCC", "ACSP", "PART", None])
def test_final_group_status_without_transactions_is_refused(code: str | None) -> None:
    """Payouts are marked paid one by one, so a paid group needs its transaction list."""
    error = refusal(parse_pain002, build_pain002(group_status=code))
    assert "status for every transaction" in error.message


def test_final_block_status_without_transactions_is_refused() -> None:
    """A rejected block without its transactions cannot be matched to payouts."""
    document = build_pain002(
        group_status="PART", blocks=[ReportedBlock("PAYOUT-2025-01-2", status="RJCT")]
    )
    error = refusal(parse_pain002, document)
    assert "PAYOUT-2025-01-2" in error.message


def test_pending_block_without_transactions_is_ignored() -> None:
    """A block only acknowledged adds no statuses; the others are still read."""
    document = build_pain002(
        group_status="PART",
        blocks=[
            ReportedBlock("PAYOUT-2025-01-1", status="ACTC"),
            ReportedBlock("PAYOUT-2025-01-2", transactions=(ReportedTransaction(e2e(1), "ACSC"),)),
        ],
    )
    assert [status.end_to_end_id for status in parse_pain002(document).statuses] == [e2e(1)]


def test_transaction_without_status_takes_the_block_status() -> None:
    """When TxSts is left out, the block's status (else the group's) applies."""
    document = build_pain002(
        group_status="ACSP",
        blocks=[
            ReportedBlock(
                "PAYOUT-2025-01-1", "RJCT", transactions=(ReportedTransaction(e2e(1), None),)
            ),
            ReportedBlock("PAYOUT-2025-01-2", transactions=(ReportedTransaction(e2e(2), None),)),
        ],
    )
    statuses = parse_pain002(document).statuses
    assert [(status.status_code, status.outcome) for status in statuses] == [
        ("RJCT", Outcome.REJECTED),
        ("ACSP", Outcome.PAID),
    ]


def test_transaction_without_any_status_is_refused() -> None:
    """No status at any level is refused."""
    document = build_pain002(
        blocks=[ReportedBlock("B-1", transactions=(ReportedTransaction(e2e(1), None),))]
    )
    assert "TxSts" in refusal(parse_pain002, document).message


def test_transaction_without_end_to_end_id_is_refused() -> None:
    """A status that names no payment cannot be applied."""
    document = build_pain002(
        blocks=[ReportedBlock("B-1", transactions=(ReportedTransaction(None, "ACSC"),))]
    )
    assert "OrgnlEndToEndId" in refusal(parse_pain002, document).message


def test_repeated_end_to_end_id_is_refused() -> None:
    """Two statuses for one payment in a report are ambiguous."""
    document = transactions_report([(e2e(1), "ACSC"), (e2e(1), "RJCT")])
    assert "more than once" in refusal(parse_pain002, document).message


@pytest.mark.parametrize("code", ["ACXX", "PART", "rjct", "PRES"])
def test_unknown_transaction_status_is_refused(code: str) -> None:
    """Codes we do not map (or PART on one transaction) are refused, not guessed."""
    error = refusal(parse_pain002, transactions_report([(e2e(1), code)]))
    assert "unknown transaction status" in error.message
    assert refusal(status_outcome, code)


def test_unknown_group_status_is_refused() -> None:
    """An unknown group status is refused."""
    document = transactions_report([(e2e(1), "ACSC")], group_status="DONE")
    assert "unknown group status" in refusal(parse_pain002, document).message


def test_missing_original_message_id_is_refused() -> None:
    """Without OrgnlMsgId the report cannot be matched to a payout file."""
    document = build_pain002(original_message_id=None, group_status="RJCT")
    error = refusal(parse_pain002, document)
    assert refused_fields(error) == {"OrgnlGrpInfAndSts/OrgnlMsgId"}
    assert "cannot be matched" in error.message


def test_missing_report_message_id_is_refused() -> None:
    """The report's own MsgId is mandatory."""
    document = build_pain002(message_id=None, group_status="RJCT")
    assert refused_fields(refusal(parse_pain002, document)) == {"GrpHdr/MsgId"}


def test_report_about_another_message_type_is_refused() -> None:
    """A status report about a direct debit (pain.008) is not about a payout file."""
    document = build_pain002(original_message_name="pain.008.001.02", group_status="RJCT")
    assert "pain.008.001.02" in refusal(parse_pain002, document).message


@pytest.mark.parametrize(
    "document",
    [
        transactions_report([(e2e(1), "ACSC")]).replace(b"pain.002.001.10", b"pain.002.001.05"),
        transactions_report([(e2e(1), "ACSC")]).replace(b"pain.002.001.10", b"camt.054.001.08"),
        build(sample_payments()),
        b"<Document><CstmrPmtStsRpt/></Document>",
        b"<?xml version='1.0'?><html xmlns='urn:iso:std:iso:20022:tech:xsd:pain.002.001.10'/>",
    ],
    ids=["pain.002.001.05", "camt.054", "pain.001", "no namespace", "wrong root"],
)
def test_other_documents_are_refused(document: bytes) -> None:
    """Only pain.002.001.10 and .001.03 Documents are read."""
    error = refusal(parse_pain002, document)
    assert "is not a pain.002.001.10 or pain.002.001.03 status report" in error.message


@pytest.mark.parametrize(
    "document",
    [b"", b"<Document", b"not xml at all", b"<a></b>", b"\xff\xfe<garbage"],
)
def test_malformed_xml_is_refused(document: bytes) -> None:
    """Input that is not well-formed XML is refused with the parser's position."""
    assert "not well-formed XML" in refusal(parse_pain002, document).message


def test_oversize_input_is_refused_before_parsing() -> None:
    """Reports over 20 MiB are refused by size alone."""
    document = transactions_report([(e2e(1), "ACSC")])
    padded = document + b" " * (MAX_STATUS_REPORT_BYTES - len(document) + 1)
    error = refusal(parse_pain002, padded)
    assert "over 20,971,520" in error.message
    assert parse_pain002(document + b" " * 1000).statuses


def test_text_input_is_refused() -> None:
    """The upload is passed as bytes, as received."""
    document = transactions_report([(e2e(1), "ACSC")]).decode()
    assert "must be bytes" in refusal(parse_pain002, document).message


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">
  <CstmrPmtStsRpt><GrpHdr><MsgId>&lol9;</MsgId></GrpHdr></CstmrPmtStsRpt>
</Document>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">
  <CstmrPmtStsRpt><GrpHdr><MsgId>&secret;</MsgId></GrpHdr></CstmrPmtStsRpt>
</Document>
"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Document SYSTEM "http://attacker.invalid/pain.dtd">
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"/>
"""


@pytest.mark.parametrize(
    "document",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD],
    ids=["billion laughs", "external entity", "external DTD"],
)
def test_dtds_and_entities_are_refused(document: bytes) -> None:
    """Entity expansion and external references are refused before any is resolved."""
    error = refusal(parse_pain002, document)
    assert "declares a DTD or entities" in error.message


# --- properties -------------------------------------------------------------------------------

CREDITORS = [PHARMACY, BAKERY, FUEL, GROCER, Party("Gasolinera Sur", VALID_IBANS[2], "CAIXESBB")]
STATUS_CODES = sorted(EXPECTED_OUTCOMES)


@st.composite
def payment_lists(draw: st.DrawFn) -> list[Payment]:
    ids = draw(st.lists(st.integers(0, 2**128 - 1), min_size=1, max_size=30, unique=True))
    return [
        Payment(
            e2e(identifier),
            draw(st.sampled_from(CREDITORS)),
            draw(st.integers(1, 10**15)),
            draw(st.text(st.sampled_from("abcñé ,.-"), min_size=1).filter(str.strip)),
        )
        for identifier in ids
    ]


@settings(max_examples=60, deadline=None)
@given(payments=payment_lists(), scale=st.integers(0, 5), data=st.data())
def test_sums_agree_and_status_reports_round_trip(
    payments: list[Payment], scale: int, data: st.DataObject
) -> None:
    """Group CtrlSum = sum of block CtrlSums = sum of amounts; a pain.002 of its ids round-trips."""
    document = build(payments, scale=scale)
    pain001_schema().validate(document.decode())
    root = parse_xml(document)
    blocks = root.findall(".//p:PmtInf", NS)
    amounts = sum(payment.amount_minor for payment in payments)
    group_sum = to_minor(one(root, ".//p:GrpHdr/p:CtrlSum"), scale)
    block_sums = [to_minor(one(block, "p:CtrlSum"), scale) for block in blocks]
    assert group_sum == sum(block_sums) == amounts
    assert int(one(root, ".//p:GrpHdr/p:NbOfTxs")) == len(payments)
    assert len(blocks) == len({payment.creditor.bank_key for payment in payments})

    reported = [
        ReportedBlock(
            one(block, "p:PmtInfId"),
            transactions=tuple(
                ReportedTransaction(identifier, data.draw(st.sampled_from(STATUS_CODES)))
                for identifier in texts(block, "p:CdtTrfTxInf/p:PmtId/p:EndToEndId")
            ),
        )
        for block in blocks
    ]
    version = data.draw(st.sampled_from(["10", "03"]))
    report = parse_pain002(
        build_pain002(
            original_message_id=one(root, ".//p:GrpHdr/p:MsgId"),
            group_status="PART",
            blocks=reported,
            version=version,
        )
    )
    assert report.original_message_id == "PAYOUT-2025-01"
    sent = {
        transaction.end_to_end_id: transaction.status
        for block in reported
        for transaction in block.transactions
    }
    assert {status.end_to_end_id: status.status_code for status in report.statuses} == sent
    assert set(sent) == {payment.end_to_end_id for payment in payments}
    for status in report.statuses:
        assert status.outcome is EXPECTED_OUTCOMES[status.status_code]
