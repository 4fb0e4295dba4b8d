"""Realistic pain.002 payment status reports, as a bank would send them, for tests.

Production never writes pain.002; the tests need documents of both accepted versions
(pain.002.001.10 and pain.002.001.03) with group, block and transaction statuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, SubElement, indent, tostring

NAMESPACES = {
    "10": "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10",
    "03": "urn:iso:std:iso:20022:tech:xsd:pain.002.001.03",
}


@dataclass(frozen=True)
class ReportedTransaction:
    end_to_end_id: str | None
    status: str | None
    reason_code: str | None = None
    proprietary_reason: str | None = None
    additional_information: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportedBlock:
    original_payment_information_id: str
    status: str | None = None
    transactions: tuple[ReportedTransaction, ...] = field(default_factory=tuple)


def build_pain002(
    *,
    message_id: str | None = "STATUS-0001",
    original_message_id: str | None = "PAYOUT-2025-01",
    original_message_name: str | None = "pain.001.001.09",
    group_status: str | None = None,
    blocks: Sequence[ReportedBlock] = (),
    version: str = "10",
) -> bytes:
    """A pain.002 document; pass None to leave an element out."""
    root = Element("Document", {"xmlns": NAMESPACES[version]})
    report = SubElement(root, "CstmrPmtStsRpt")
    header = SubElement(report, "GrpHdr")
    if message_id is not None:
        SubElement(header, "MsgId").text = message_id
    SubElement(header, "CreDtTm").text = "2025-02-03T09:15:00+01:00"
    SubElement(
        SubElement(SubElement(header, "DbtrAgt"), "FinInstnId"), "BICFI"
    ).text = "CAIXESBBXXX"
    original = SubElement(report, "OrgnlGrpInfAndSts")
    if original_message_id is not None:
        SubElement(original, "OrgnlMsgId").text = original_message_id
    if original_message_name is not None:
        SubElement(original, "OrgnlMsgNmId").text = original_message_name
    if group_status is not None:
        SubElement(original, "GrpSts").text = group_status
    for block in blocks:
        information = SubElement(report, "OrgnlPmtInfAndSts")
        SubElement(information, "OrgnlPmtInfId").text = block.original_payment_information_id
        if block.status is not None:
            SubElement(information, "PmtInfSts").text = block.status
        for number, transaction in enumerate(block.transactions, start=1):
            status = SubElement(information, "TxInfAndSts")
            SubElement(status, "StsId").text = f"S{number}"
            if transaction.end_to_end_id is not None:
                SubElement(status, "OrgnlEndToEndId").text = transaction.end_to_end_id
            if transaction.status is not None:
                SubElement(status, "TxSts").text = transaction.status
            if (
                transaction.reason_code
                or transaction.proprietary_reason
                or transaction.additional_information
            ):
                reason = SubElement(status, "StsRsnInf")
                if transaction.reason_code:
                    SubElement(SubElement(reason, "Rsn"), "Cd").text = transaction.reason_code
                elif transaction.proprietary_reason:
                    SubElement(
                        SubElement(reason, "Rsn"), "Prtry"
                    ).text = transaction.proprietary_reason
                for line in transaction.additional_information:
                    SubElement(reason, "AddtlInf").text = line
    indent(root)
    document: bytes = tostring(root, encoding="UTF-8", xml_declaration=True)
    return document


def transactions_report(
    statuses: Sequence[tuple[str, str]], *, version: str = "10", group_status: str | None = None
) -> bytes:
    """A report with one block holding (end-to-end id, status) pairs."""
    return build_pain002(
        group_status=group_status,
        blocks=[
            ReportedBlock(
                "PAYOUT-2025-01-1",
                transactions=tuple(ReportedTransaction(e2e, code) for e2e, code in statuses),
            )
        ],
        version=version,
    )
