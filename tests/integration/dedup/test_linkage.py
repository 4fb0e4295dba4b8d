"""The linkage itself (Splink on DuckDB, no registry database) on awkward input."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

from fairshare.dedup.linkage import INPUT_COLUMNS, LinkageOptions, link
from fairshare.dedup.model import PairOutcome, Thresholds
from fairshare.synth.generate import generate

FAST = LinkageOptions(u_max_pairs=5e4, em_max_pairs=5e4, threads=2)


def _background(people: int = 300, seed: int = 5) -> list[dict[str, Any]]:
    records = generate(people=people, seed=seed, duplicate_rate=0.0).records
    rows = []
    for row in records.to_pylist():
        rows.append({"person_id": row["record_ref"], **{c: row[c] for c in INPUT_COLUMNS[1:]}})
    return rows


def _person(person_id: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(INPUT_COLUMNS)
    row.update(
        person_id=person_id,
        given_names="Ana Lucía",
        family_names="Quispe Mamani",
        date_of_birth="1970-03-14",
        sex="female",
        region="Capital",
        municipality="Distrito Central",
        address="Calle Bolívar 12",
    )
    row.update(values)
    return row


def _run(rows: list[dict[str, Any]]) -> tuple[dict[frozenset[str], dict[str, Any]], dict[str, str]]:
    result = link(pa.Table.from_pylist(rows), Thresholds(0.99, 0.8), FAST)
    pairs = {frozenset((p["person_a"], p["person_b"])): p for p in result.pairs.to_pylist()}
    clusters = {c["person_id"]: c["cluster_id"] for c in result.clusters.to_pylist()}
    return pairs, clusters


def test_identical_records_form_one_cluster() -> None:
    """Thirty records with identical values are one person, clustered together."""
    identical = [_person(f"same-{i:02d}", national_id="9000001") for i in range(30)]
    pairs, clusters = _run(_background() + identical)
    assert {clusters.get(row["person_id"]) for row in identical} == {"same-00"}
    assert len([p for p in pairs.values() if p["outcome"] == PairOutcome.LINKED]) >= 29


def test_non_latin_names_are_compared() -> None:
    """Cyrillic and Chinese names fold, block and link like Latin ones."""
    rows = [
        *_background(),
        _person("cyr-1", given_names="Дмитрий", family_names="Иванов Петров", national_id="77"),
        _person("cyr-2", given_names="Дмитрий", family_names="Иванов Петров", phone="0412-1"),
        _person("zh-1", given_names="小明", family_names="王", date_of_birth="1990-01-02"),
        _person("zh-2", given_names="小明", family_names="王", date_of_birth="1990-01-02"),
    ]
    pairs, _clusters = _run(rows)
    assert pairs[frozenset(("cyr-1", "cyr-2"))]["match_probability"] >= 0.8
    assert pairs[frozenset(("zh-1", "zh-2"))]["match_probability"] >= 0.8


def test_missing_names_and_dates_do_not_break_the_run() -> None:
    """Records without names or birth date are scored on what they have, as 'missing'."""
    rows = [
        *_background(),
        _person("gap-1", given_names=None, national_id="5550001"),
        _person("gap-2", given_names=None, national_id="5550001"),
        _person("gap-3", family_names=None, date_of_birth=None),
        _person("gap-4", given_names=None, family_names=None, date_of_birth=None),
    ]
    pairs, _clusters = _run(rows)
    evidence = json.loads(pairs[frozenset(("gap-1", "gap-2"))]["evidence"])
    assert evidence["given_names"]["level"] == "missing"
    assert evidence["national_id"]["level"] == "exact"


def test_one_record_gives_no_pairs() -> None:
    """A registry of one person has nothing to compare and says so."""
    result = link(pa.Table.from_pylist([_person("only")]), Thresholds(), FAST)
    assert result.pairs.num_rows == 0 and result.clusters.num_rows == 0
    assert result.notes == ["fewer than two records: nothing to compare"]


def test_duplicate_person_ids_are_refused() -> None:
    """The same person id twice is a caller error, not something to link."""
    with pytest.raises(ValueError, match="unique"):
        link(pa.Table.from_pylist([_person("x"), _person("x")]), Thresholds(), FAST)


def test_progress_reports_every_stage() -> None:
    """Each stage is reported as started and finished, in order."""
    seen: list[tuple[str, int, int]] = []
    link(
        pa.Table.from_pylist(_background(60)),
        Thresholds(),
        FAST,
        lambda stage, done, total: seen.append((stage, done, total)),
    )
    finished = [stage for stage, done, total in seen if done == total]
    assert finished == [
        "normalise records",
        "estimate u (random pairs)",
        "estimate m (shared national ID)",
        "estimate m (shared birth date and family name)",
        "score pairs",
        "cluster",
    ]
