"""The red-line guard refuses special-category fields and lets ordinary ones through.

DESIGN.md red lines 1 and 2. Each case is an attempted field definition: refused ones name the
category and where the category showed; allowed ones are look-alikes that must still pass.
"""

from __future__ import annotations

import unicodedata
from typing import Any, NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fairshare.catalogue.model import CORE_FIELDS, Entity, FieldDefinition, FieldType
from fairshare.catalogue.redline import (
    RedLineCategory,
    RefusedField,
    Where,
    check_definition,
    check_field,
    find_refused,
    normalise,
)
from fairshare.errors import InvalidInput

POLITICAL = RedLineCategory.POLITICAL_OPINION
PARTY = RedLineCategory.PARTY_MEMBERSHIP
VOTING = RedLineCategory.VOTING
RELIGION = RedLineCategory.RELIGION
ETHNIC = RedLineCategory.ETHNIC_ORIGIN
UNION = RedLineCategory.TRADE_UNION
SEX = RedLineCategory.SEX_LIFE_OR_ORIENTATION
SOCIAL = RedLineCategory.SOCIAL_MEDIA
BEHAVIOUR = RedLineCategory.BEHAVIOUR_SCORE


class Attempt(NamedTuple):
    name: str
    label: str = ""
    description: str = ""
    choices: tuple[str, ...] = ()
    purpose: str = ""


def refused(
    category: RedLineCategory,
    where: Where,
    name: str,
    label: str = "",
    description: str = "",
    choices: tuple[str, ...] = (),
    purpose: str = "",
) -> Any:
    shown = label or description or purpose or ",".join(choices)
    return pytest.param(
        Attempt(name, label, description, choices, purpose),
        category,
        where,
        id=f"{where}:{name}:{shown}"[:80],
    )


def allowed(
    name: str,
    label: str = "",
    description: str = "",
    choices: tuple[str, ...] = (),
    purpose: str = "",
) -> Any:
    return pytest.param(Attempt(name, label, description, choices, purpose), id=name)


REFUSED = [
    # English names
    refused(POLITICAL, "name", "political_opinion"),
    refused(POLITICAL, "name", "ideology"),
    refused(PARTY, "name", "political_party"),
    refused(PARTY, "name", "party_membership"),
    refused(PARTY, "name", "party_affiliation"),
    refused(PARTY, "name", "party"),
    refused(VOTING, "name", "voted_last_election"),
    refused(VOTING, "name", "registered_voter"),
    refused(VOTING, "name", "electoral_roll_number"),
    refused(RELIGION, "name", "religion"),
    refused(RELIGION, "name", "church_attendance"),
    refused(RELIGION, "name", "mosque"),
    refused(ETHNIC, "name", "ethnicity"),
    refused(ETHNIC, "name", "race"),
    refused(ETHNIC, "name", "caste"),
    refused(ETHNIC, "name", "indigenous_status"),
    refused(ETHNIC, "name", "skin_colour"),
    refused(UNION, "name", "trade_union"),
    refused(UNION, "name", "union_membership"),
    refused(UNION, "name", "union_dues"),
    refused(SEX, "name", "sexual_orientation"),
    refused(SEX, "name", "sex_life"),
    refused(SEX, "name", "lgbt_status"),
    refused(SEX, "name", "is_gay"),
    refused(SOCIAL, "name", "facebook_profile"),
    refused(SOCIAL, "name", "fb_handle"),
    refused(SOCIAL, "name", "twitter"),
    refused(SOCIAL, "name", "tiktok_account"),
    refused(SOCIAL, "name", "youtube_channel"),
    refused(SOCIAL, "name", "social_media_accounts"),
    refused(SOCIAL, "name", "whatsapp_group"),
    refused(SOCIAL, "name", "telegram_channel"),
    # Spanish names
    refused(PARTY, "name", "partido_politico"),
    refused(PARTY, "name", "partido"),
    refused(PARTY, "name", "afiliacion_partidaria"),
    refused(PARTY, "name", "militancia"),
    refused(VOTING, "name", "voto"),
    refused(VOTING, "name", "votó_en_2024"),
    refused(VOTING, "name", "padron_electoral"),
    refused(VOTING, "name", "cedula_electoral"),
    refused(RELIGION, "name", "religión"),
    refused(RELIGION, "name", "iglesia_a_la_que_asiste"),
    refused(RELIGION, "name", "mezquita"),
    refused(ETHNIC, "name", "etnia"),
    refused(ETHNIC, "name", "grupo_étnico"),
    refused(ETHNIC, "name", "raza"),
    refused(ETHNIC, "name", "afrodescendiente"),
    refused(ETHNIC, "name", "pueblo_indigena"),
    refused(ETHNIC, "name", "casta"),
    refused(UNION, "name", "sindicato"),
    refused(UNION, "name", "sindicalizado"),
    refused(UNION, "name", "afiliacion_sindical"),
    refused(SEX, "name", "orientacion_sexual"),
    refused(SEX, "name", "vida_sexual"),
    refused(SOCIAL, "name", "redes_sociales"),
    refused(SOCIAL, "name", "seguidores"),
    # Portuguese names
    refused(PARTY, "name", "filiacao_partidaria"),
    refused(VOTING, "name", "titulo_de_eleitor"),
    refused(VOTING, "name", "eleições"),
    refused(RELIGION, "name", "religiao"),
    refused(RELIGION, "name", "igreja"),
    refused(ETHNIC, "name", "raça_cor"),
    refused(ETHNIC, "name", "quilombola"),
    refused(ETHNIC, "name", "cor_da_pele"),
    refused(UNION, "name", "sindicatos"),
    refused(UNION, "name", "filiação_sindical"),
    refused(SEX, "name", "orientação_sexual"),
    refused(SOCIAL, "name", "rede_social"),
    # spelling variants: case, accents, separators, plurals
    refused(PARTY, "name", "partyMembership"),
    refused(SEX, "name", "SexualOrientation"),
    refused(SOCIAL, "name", "redesSociales"),
    refused(UNION, "name", "trade-union"),
    refused(SEX, "name", "Orientación Sexual"),
    refused(VOTING, "name", "voter.registration"),
    refused(RELIGION, "name", "RELIGIÃO"),
    refused(RELIGION, "name", "religiãoDoChefe"),
    refused(SEX, "name", "LGBTStatus"),
    refused(VOTING, "name", "votes_cast"),
    refused(PARTY, "name", "partidos_politicos"),
    refused(RELIGION, "name", "religiões"),
    refused(SEX, "name", "orientações_sexuais"),
    refused(PARTY, "name", "political_parties"),
    # only the label gives it away
    refused(PARTY, "label", "affiliation", label="Political party"),
    refused(ETHNIC, "label", "group_code", label="Grupo étnico"),
    refused(RELIGION, "label", "community", label="Congregação religiosa"),
    refused(SOCIAL, "label", "handle", label="Instagram handle"),
    # only the description gives it away
    refused(
        VOTING,
        "description",
        "extra_notes",
        "Notes",
        "Whether the person voted in the last election",
    ),
    refused(SOCIAL, "description", "contact_handle", "Handle", "The person's Instagram user name"),
    refused(UNION, "description", "org_membership", "Membership", "Miembro de algún sindicato"),
    refused(RELIGION, "description", "weekly_activity", "Weekly activity", "Frequência à igreja"),
    refused(PARTY, "description", "group", "Group", "Membro do partido no poder"),
    # only an enumeration choice gives it away
    refused(RELIGION, "choices", "household_group", choices=("catholic", "evangelical", "none")),
    refused(SOCIAL, "choices", "preferred_contact", choices=("phone", "whatsapp", "facebook")),
    refused(ETHNIC, "choices", "community_group", choices=("afrodescendiente", "mestizo", "other")),
    refused(UNION, "choices", "organisation", choices=("cooperative", "trade_union", "none")),
    refused(POLITICAL, "choices", "outlook", choices=("left_wing", "right_wing", "centre")),
    refused(SEX, "choices", "identity_group", choices=("heterosexual", "homosexual", "bisexual")),
    refused(VOTING, "choices", "participation", choices=("voted", "abstained")),
]

# DESIGN.md red line 2: no per-person score of conduct or loyalty.
REFUSED_BEHAVIOUR = [
    # English names
    refused(BEHAVIOUR, "name", "loyalty_score"),
    refused(BEHAVIOUR, "name", "conduct_score"),
    refused(BEHAVIOUR, "name", "behaviour_rating"),
    refused(BEHAVIOUR, "name", "behavior_rating"),
    refused(BEHAVIOUR, "name", "social_credit"),
    refused(BEHAVIOUR, "name", "trust_score"),
    refused(BEHAVIOUR, "name", "trust_level"),
    refused(BEHAVIOUR, "name", "compliance_rating"),
    refused(BEHAVIOUR, "name", "health_compliance_score"),
    refused(BEHAVIOUR, "name", "reputation_score"),
    refused(BEHAVIOUR, "name", "citizen_score"),
    refused(BEHAVIOUR, "name", "conduct_grade"),
    refused(BEHAVIOUR, "name", "civic_behaviour"),
    refused(BEHAVIOUR, "name", "trustworthiness"),
    refused(BEHAVIOUR, "name", "obedience_level"),
    refused(BEHAVIOUR, "name", "patriotism_index"),
    refused(BEHAVIOUR, "name", "attitude_towards_government"),
    refused(BEHAVIOUR, "name", "disloyal_flag"),
    refused(BEHAVIOUR, "name", "loyalty_card_number"),
    # Spanish names
    refused(BEHAVIOUR, "name", "puntaje_de_conducta"),
    refused(BEHAVIOUR, "name", "puntuacion_lealtad"),
    refused(BEHAVIOUR, "name", "calificacion_comportamiento"),
    refused(BEHAVIOUR, "name", "credito_social"),
    refused(BEHAVIOUR, "name", "conducta_ciudadana"),
    refused(BEHAVIOUR, "name", "puntaje_ciudadano"),
    refused(BEHAVIOUR, "name", "nivel_de_confianza"),
    refused(BEHAVIOUR, "name", "indice_de_cumplimiento"),
    refused(BEHAVIOUR, "name", "actitud_hacia_el_gobierno"),
    refused(BEHAVIOUR, "name", "reputación"),
    refused(BEHAVIOUR, "name", "tarjeta_de_fidelizacion"),
    # Portuguese names
    refused(BEHAVIOUR, "name", "pontuacao_de_conduta"),
    refused(BEHAVIOUR, "name", "nota_de_comportamento"),
    refused(BEHAVIOUR, "name", "lealdade"),
    refused(BEHAVIOUR, "name", "conduta_cidada"),
    refused(BEHAVIOUR, "name", "classificação_de_confiabilidade"),
    refused(BEHAVIOUR, "name", "indice_de_obediencia"),
    refused(BEHAVIOUR, "name", "cartao_fidelidade"),
    # spelling variants: case, accents, separators, plurals
    refused(BEHAVIOUR, "name", "LoyaltyScore"),
    refused(BEHAVIOUR, "name", "CONDUCT_SCORE"),
    refused(BEHAVIOUR, "name", "behaviour-ratings"),
    refused(BEHAVIOUR, "name", "puntajes_de_conducta"),
    refused(BEHAVIOUR, "name", "pontuações_de_conduta"),
    refused(BEHAVIOUR, "name", "calificaciónComportamiento"),
    refused(BEHAVIOUR, "name", "Crédito Social"),
    # taking part in rallies, demonstrations, marches and protests is political opinion
    refused(POLITICAL, "name", "rally_attendance"),
    refused(POLITICAL, "name", "attended_demonstrations"),
    refused(POLITICAL, "name", "protest_participation"),
    refused(POLITICAL, "name", "asistencia_a_mitines"),
    refused(POLITICAL, "name", "asistencia_a_manifestaciones"),
    refused(POLITICAL, "name", "participacion_en_protestas"),
    refused(POLITICAL, "name", "participo_en_marchas"),
    refused(POLITICAL, "name", "participacao_em_passeatas"),
    refused(POLITICAL, "name", "presenca_em_manifestacoes"),
    refused(POLITICAL, "name", "participou_de_protestos"),
    # only the label, description, purpose or a choice gives it away
    refused(BEHAVIOUR, "label", "score_a", label="Citizen score"),
    refused(BEHAVIOUR, "description", "extra_1", "Extra", "Puntaje de lealtad al gobierno"),
    refused(BEHAVIOUR, "choices", "standing", choices=("loyal", "disloyal", "unknown")),
    refused(BEHAVIOUR, "choices", "disposition", choices=("obedient", "disobedient")),
    refused(
        BEHAVIOUR, "purpose", "notes", "Notes", purpose="rank citizens by loyalty to the government"
    ),
    refused(BEHAVIOUR, "purpose", "indicator", "Indicator", purpose="compute a trust score"),
    refused(BEHAVIOUR, "purpose", "observacao", "Observação", purpose="nota de comportamento"),
    refused(
        POLITICAL, "purpose", "events", "Events", purpose="screen out people who attend rallies"
    ),
    refused(
        PARTY, "purpose", "outreach", "Outreach", purpose="contact members of the ruling party"
    ),
]

ALLOWED = [
    # the brief's look-alikes
    allowed("income_source", "Main source of income"),
    allowed("partner_name", "Partner's name"),
    allowed("spouse_name", "Spouse's name"),
    allowed("third_party_payer", "Third-party payer", "A third party that pays the rent"),
    allowed("party_size", "Number of people travelling together"),
    allowed("postal_code", "Postal code"),
    allowed("post_code", "Post code"),
    allowed("grace_period_days", "Grace period (days)"),
    allowed("trace_id", "Trace identifier"),
    allowed("devoted_hours", "Hours devoted to care work"),
    allowed("civil_union_date", "Date of civil union"),
    allowed("union_libre", "Unión libre", "Vive en unión libre"),
    allowed("uniao_estavel", "União estável"),
    allowed("union_date", "Date of marriage or union"),
    allowed("cedula", "Cédula"),
    allowed("cedula_identidad", "Cédula de identidad"),
    allowed("sex", "Sex", choices=("female", "male", "other")),
    allowed("nationality", "Nationality"),
    allowed("citizenship", "Citizenship"),
    allowed("marital_status", "Marital status", choices=("single", "married", "civil_union")),
    allowed("estado_civil", "Estado civil", choices=("soltero", "casado", "union_libre")),
    allowed("school_attendance", "School attendance"),
    allowed("household_head", "Household head"),
    allowed("date_of_birth", "Date of birth"),
    allowed("language_spoken", "Language spoken", choices=("spanish", "quechua", "portuguese")),
    allowed("native_language", "Native language"),
    allowed("region", "Region"),
    allowed("municipality", "Municipality"),
    allowed("address", "Address"),
    allowed("disability", "Disability"),
    allowed("chronic_illness", "Chronic illness"),
    allowed("dwelling_type", "Dwelling type"),
    allowed("employment_status", "Employment status"),
    allowed("gender_identity", "Gender identity", "Outside red line 1 as written"),
    allowed("sexual_reproductive_health", "Sexual and reproductive health needs"),
    allowed("orientation_session_date", "Date of the orientation session"),
    # administrative areas and identity documents that share words with the red line
    allowed("parish", "Parish", "Administrative parish (Jamaica)"),
    allowed("parroquia", "Parroquia"),
    allowed("division_politico_administrativa", "División político-administrativa"),
    allowed("partido_de_residencia", "Partido de residencia", "Buenos Aires"),
    allowed("admin_unit_type", "Unit type", choices=("municipio", "partido", "departamento")),
    allowed("partida_nacimiento", "Partida de nacimiento"),
    allowed("fe_de_vida", "Fe de vida", "Proof of life for pensions"),
    allowed("christian_name", "Christian name"),
    # social security, social work and policy are not social media or politics
    allowed("afiliacion_seguridad_social", "Afiliación a la seguridad social"),
    allowed("filiacao", "Filiação", "Nome da mãe e do pai"),
    allowed("social_security_number", "Social security number"),
    allowed("social_worker_name", "Social worker"),
    allowed("beneficiario_politica_social", "Beneficiario de política social"),
    allowed("whatsapp_number", "WhatsApp number", "Phone number used on WhatsApp"),
    allowed("contact_channel", choices=("phone", "sms", "whatsapp", "in_person")),
    allowed("credit_union_account", "Credit union account"),
    allowed("benefit_election", "Benefit election", "Lump sum or monthly pension"),
    allowed("estrategia_afrontamiento", "Estrategia de afrontamiento"),
    allowed("raza_ganado", "Raza del ganado"),
    allowed("owns_vehicle", "Owns a motor vehicle"),
]

# Need scores, financial facts and programme conditions that look like red line 2.
ALLOWED_BEHAVIOUR = [
    allowed(
        "credit_score", "Credit score", "Bureau credit score, for debt relief", purpose="means test"
    ),
    allowed("puntaje_crediticio", "Puntaje crediticio"),
    allowed("debt_arrears", "Debt arrears"),
    allowed("poverty_score", "Poverty score", purpose="means test"),
    allowed("pmt_score", "PMT score", "Proxy means test score"),
    allowed("proxy_means_test_score", "Proxy means test score"),
    allowed("vulnerability_index", "Vulnerability index"),
    allowed("sisben_score", "Puntaje del SISBÉN"),
    allowed("attendance_days", "Days attended at school", purpose="programme conditions"),
    allowed("asistencia_escolar", "Asistencia escolar"),
    allowed("frequencia_escolar", "Frequência escolar"),
    allowed("attendance_days_march", "School attendance days in March"),
    allowed("clinic_attendance", "Clinic attendance"),
    allowed("health_checkup_attended", "Attended the health check-up"),
    allowed("health_compliance", "Compliance with health check-ups", purpose="CCT conditions"),
    allowed("cumplimiento_corresponsabilidades", "Cumplimiento de corresponsabilidades"),
    allowed("persona_de_confianza", "Persona de confianza", "Contacto de confianza"),
    allowed("trusted_contact_name", "Trusted contact"),
    allowed("trust_fund_balance", "Trust fund balance"),
    allowed("conduct_disorder", "Conduct disorder", "Psychosocial disability screening"),
    allowed("comportamento_alimentar", "Comportamento alimentar"),
    allowed("senior_citizen_card", "Senior citizen card"),
    allowed("cartao_de_cidadao", "Cartão de Cidadão"),
    allowed("cooking_demonstration_attendance", "Attended cooking demonstrations"),
    allowed("manifestacion_de_bienes", "Manifestación de bienes", "Para asistencia social"),
    allowed("dificultad_marcha", "Dificultad para la marcha", "Requiere asistencia para la marcha"),
    allowed("declaracion_jurada", "Declaración bajo protesta de decir verdad"),
    allowed("protesto_de_titulo", "Protesto de título em cartório"),
    allowed("rally_point", "Evacuation rally point"),
    allowed("patrimonio", "Patrimonio familiar"),
    allowed("aptitud_laboral", "Aptitud laboral"),
]


def _check(attempt: Attempt) -> None:
    check_field(
        attempt.name, attempt.label, attempt.description, attempt.choices, purpose=attempt.purpose
    )


@pytest.mark.parametrize(("attempt", "category", "where"), [*REFUSED, *REFUSED_BEHAVIOUR])
def test_refuses_red_line_field(attempt: Attempt, category: RedLineCategory, where: str) -> None:
    """A field about a red-line category is refused, naming the category and where it showed."""
    with pytest.raises(RefusedField) as caught:
        _check(attempt)
    assert caught.value.category is category
    assert caught.value.where == where
    assert category.label in str(caught.value)


@pytest.mark.parametrize("attempt", [*ALLOWED, *ALLOWED_BEHAVIOUR])
def test_allows_look_alike_field(attempt: Attempt) -> None:
    """A legitimate field that shares words or letters with the red line is not refused."""
    _check(attempt)


def test_table_is_large_enough() -> None:
    """The case tables hold at least 80 attempted definitions, refused and allowed."""
    assert len(REFUSED) + len(ALLOWED) >= 80
    assert {p.values[1] for p in [*REFUSED, *REFUSED_BEHAVIOUR]} == set(RedLineCategory)


def test_behaviour_tables_are_large_enough() -> None:
    """Red line 2 has at least 25 refused cases in en, es and pt, and 15 allowed look-alikes."""
    behaviour = [p for p in REFUSED_BEHAVIOUR if p.values[1] is BEHAVIOUR]
    assert len(behaviour) >= 25
    assert len(ALLOWED_BEHAVIOUR) >= 15
    assert sum(p.values[2] == "purpose" for p in REFUSED_BEHAVIOUR) >= 3


@pytest.mark.parametrize("definition", CORE_FIELDS, ids=lambda d: d.name)
def test_core_fields_pass(definition: FieldDefinition) -> None:
    """Every core catalogue field passes the guard."""
    check_definition(definition)


@pytest.mark.parametrize("definition", CORE_FIELDS, ids=lambda d: d.name)
def test_core_purposes_pass(definition: FieldDefinition) -> None:
    """Every core field's purpose text passes the guard on its own."""
    assert find_refused(definition.purpose) is None


def test_check_definition_reads_purpose() -> None:
    """check_definition looks at a definition's purpose, after its description."""
    definition = FieldDefinition(
        "notes",
        "Notes",
        FieldType.TEXT,
        Entity.PERSON,
        "rank citizens by loyalty to the government",
    )
    with pytest.raises(RefusedField) as caught:
        check_definition(definition)
    assert (caught.value.category, caught.value.where) == (BEHAVIOUR, "purpose")
    assert caught.value.errors == [
        {"field": "purpose", "reason": "refused category: behaviour or loyalty score"}
    ]


def test_purpose_is_checked_after_description_and_before_choices() -> None:
    """The description is reported before the purpose, the purpose before the choices."""
    with pytest.raises(RefusedField) as caught:
        check_field(
            "notes", "Notes", "Voted in the last election", ("catholic",), purpose="loyalty"
        )
    assert (caught.value.category, caught.value.where) == (VOTING, "description")
    with pytest.raises(RefusedField) as caught:
        check_field("notes", "Notes", "", ("catholic",), purpose="loyalty score")
    assert (caught.value.category, caught.value.where) == (BEHAVIOUR, "purpose")


def test_behaviour_refusal_cites_red_line_2() -> None:
    """A behaviour-score refusal names its category and cites DESIGN.md red line 2."""
    with pytest.raises(RefusedField) as caught:
        check_field("conduct_score")
    assert str(caught.value) == (
        "Refused: field 'conduct_score' is about behaviour or loyalty score (matched "
        "'conduct score' in its name). Fairshare never scores a person's conduct or loyalty "
        "(DESIGN.md red line 2); nothing was stored."
    )
    assert caught.value.term == "conduct score"


def test_protestant_is_religion_not_protest() -> None:
    """Adding 'protest' to political opinion leaves 'protestant' a religion."""
    assert find_refused("protestant_church") == (RELIGION, "protestant")
    assert find_refused("protest_march") == (POLITICAL, "protest")


def test_check_definition_reads_choices() -> None:
    """check_definition looks at a definition's enumeration choices."""
    definition = FieldDefinition(
        "belonging",
        "Belonging",
        FieldType.ENUMERATION,
        Entity.PERSON,
        "outreach",
        choices=("none", "evangelical"),
    )
    with pytest.raises(RefusedField) as caught:
        check_definition(definition)
    assert (caught.value.category, caught.value.where, caught.value.term) == (
        RELIGION,
        "choices",
        "evangelical",
    )


def test_refused_field_is_invalid_input() -> None:
    """RefusedField is a 422 InvalidInput, exit code 2, whose message names the category."""
    with pytest.raises(RefusedField) as caught:
        check_field("partido_politico", "Partido")
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert (error.status, error.exit_code) == (422, 2)
    assert error.term == "partido politico"
    assert error.field_name == "partido_politico"
    assert str(error) == (
        "Refused: field 'partido_politico' is about party membership (matched "
        "'partido politico' in its name). Fairshare never stores political or other "
        "special-category data (DESIGN.md red line 1); nothing was stored."
    )
    assert error.errors == [{"field": "name", "reason": "refused category: party membership"}]


def test_name_is_checked_before_label() -> None:
    """When several parts hit, the name is reported first."""
    with pytest.raises(RefusedField) as caught:
        check_field("religion", "Trade union", "Facebook", ("voted",))
    assert (caught.value.category, caught.value.where) == (RELIGION, "name")


@pytest.mark.parametrize("category", list(RedLineCategory))
def test_every_category_has_a_label(category: RedLineCategory) -> None:
    """Every category has a plain-words label distinct from its code."""
    assert category.label and category.label != category.value


def test_labels_follow_design() -> None:
    """Category labels use DESIGN.md's words."""
    assert VOTING.label == "voting or electoral participation"
    assert SEX.label == "sex life or sexual orientation"
    assert BEHAVIOUR.label == "behaviour or loyalty score"
    assert BEHAVIOUR.value == "behaviour_score"


def test_normalise_folds_case_accents_and_separators() -> None:
    """normalise splits camelCase and separators, casefolds and removes accents."""
    assert normalise("religiãoDoChefe-de_HOGAR") == ["religiao", "do", "chefe", "de", "hogar"]
    assert normalise("LGBTStatus.v2 ELECCIÓN") == ["lgbt", "status", "v", "2", "eleccion"]
    assert normalise("") == []


def test_standalone_word_only_refused_when_asked() -> None:
    """A bare ambiguous word ('partido') is refused alone, but not with standalone=False."""
    assert find_refused("partido") == (PARTY, "partido")
    assert find_refused("partido", standalone=False) is None
    assert find_refused("partido de residencia") is None


def test_find_refused_reports_words_as_written() -> None:
    """find_refused returns the matched words as written, across skipped articles."""
    assert find_refused("Cor da Pele") == (ETHNIC, "Cor da Pele")
    assert find_refused("grace_period") is None


VOWEL_ACCENTS = {
    "a": "aáàâãä",
    "e": "eéèêë",
    "i": "iíìîï",
    "o": "oóòôõö",
    "u": "uúùûü",
}

# Refused base terms, as words; every variant of them must stay refused as the same category.
BASE_TERMS: list[tuple[tuple[str, ...], RedLineCategory]] = [
    (("religion",), RELIGION),
    (("religiao",), RELIGION),
    (("iglesia",), RELIGION),
    (("catholic",), RELIGION),
    (("partido", "politico"), PARTY),
    (("political", "party"), PARTY),
    (("party", "membership"), PARTY),
    (("voter",), VOTING),
    (("eleitor",), VOTING),
    (("padron", "electoral"), VOTING),
    (("etnia",), ETHNIC),
    (("indigena",), ETHNIC),
    (("skin", "colour"), ETHNIC),
    (("trade", "union"), UNION),
    (("sindicato",), UNION),
    (("orientacion", "sexual"), SEX),
    (("sexual", "orientation"), SEX),
    (("vida", "sexual"), SEX),
    (("facebook",), SOCIAL),
    (("redes", "sociales"), SOCIAL),
    (("social", "media"), SOCIAL),
    (("political", "opinion"), POLITICAL),
    (("loyalty", "score"), BEHAVIOUR),
    (("conduct", "score"), BEHAVIOUR),
    (("puntaje", "conducta"), BEHAVIOUR),
    (("credito", "social"), BEHAVIOUR),
    (("pontuacao", "conduta"), BEHAVIOUR),
    (("participacion", "protestas"), POLITICAL),
]

# Harmless look-alikes; every variant of them must stay allowed.
ALLOWED_BASES: list[tuple[str, ...]] = [
    ("third", "party", "payer"),
    ("civil", "union", "date"),
    ("union", "libre"),
    ("postal", "code"),
    ("grace", "period"),
    ("cedula", "identidad"),
    ("income", "source"),
    ("devoted", "hours"),
    ("whatsapp", "number"),
    ("poverty", "score"),
    ("credit", "score"),
    ("school", "attendance"),
    ("persona", "confianza"),
    ("health", "compliance"),
]

NEUTRAL_WORDS = ("household", "head", "code", "del", "hogar", "current")


@st.composite
def spelled(draw: st.DrawFn, words: tuple[str, ...]) -> str:
    """Words spelled some way people write field names: case, accents, separators, padding."""
    before = draw(st.lists(st.sampled_from(NEUTRAL_WORDS), max_size=2))
    after = draw(st.lists(st.sampled_from(NEUTRAL_WORDS), max_size=2))
    all_words = [*before, *words, *after]
    accented = [
        "".join(draw(st.sampled_from(VOWEL_ACCENTS.get(ch, ch))) for ch in word)
        for word in all_words
    ]
    separator = draw(st.sampled_from(["_", "-", " ", ".", "__", " - ", "camel"]))
    if separator == "camel":
        text = accented[0].lower() + "".join(w.capitalize() for w in accented[1:])
    else:
        cased = [draw(st.sampled_from([str.lower, str.upper, str.title]))(w) for w in accented]
        text = separator.join(cased)
    return unicodedata.normalize("NFD" if draw(st.booleans()) else "NFC", text)


@given(data=st.data(), base=st.sampled_from(BASE_TERMS))
def test_spelling_variants_stay_refused(
    data: st.DataObject, base: tuple[tuple[str, ...], RedLineCategory]
) -> None:
    """Any case, accent, separator or padding variant of a refused term is still refused."""
    words, category = base
    text = data.draw(spelled(words))
    hit = find_refused(text)
    assert hit is not None, text
    assert hit[0] is category, text


@given(data=st.data(), words=st.sampled_from(ALLOWED_BASES))
def test_spelling_variants_of_look_alikes_stay_allowed(
    data: st.DataObject, words: tuple[str, ...]
) -> None:
    """Any case, accent, separator or padding variant of a harmless look-alike stays allowed."""
    text = data.draw(spelled(words))
    assert find_refused(text) is None, text
