"""The red-line guard: the catalogue refuses any field about a special category.

DESIGN.md red line 1: Fairshare never stores political opinion, party membership, voting or
electoral participation, religion or belief, ethnic origin, trade-union membership, sex life or
sexual orientation, or social-media accounts and activity. Red line 2: there is no per-person
score of conduct or loyalty, so a field that scores, rates or ranks a person's behaviour,
loyalty, trustworthiness, compliance, reputation, attitude or obedience is refused too
(BEHAVIOUR_SCORE). A field definition is checked once, when it is declared, on its name,
label, description, purpose and enumeration choices.

How matching works, and why:

- Text is cut into tokens (camelCase, snake_case, kebab-case, dots, spaces and digits all
  separate words), then folded: casefold, accents removed (religión, religião -> religion,
  religiao). Matching is on whole tokens, never raw substrings, so "race" does not hit
  "grace_period" and "vote" does not hit "devoted_hours".
- Plurals are undone by trying a few singular forms of each token (votes -> vote,
  partidos -> partido, religiões -> religiao, sindicais -> sindical), so the term tables list
  singular words only. Gender forms (católico / católica) are listed explicitly instead of
  stemmed, because stemming them merges words that must stay apart (partido "party" and
  partida "birth certificate").
- Articles and prepositions (of, de, da, ...) are skipped, so "orientação da vida sexual"
  and "vida_sexual" meet the same phrase.
- Words that are only red-line in context ("party", "union", "whatsapp") are refused only near
  a word that gives that context; well-known harmless phrases ("third party", "unión libre",
  "división político-administrativa") are masked before anything else is looked at.
- Red line 2 is about scores of conduct, not about need scores or programme conditions. Words
  that only name a judgement of the person (loyalty, reputation, attitude, obedience,
  trustworthiness, "social credit") are always refused. Conduct words that have harmless senses
  (conduct disorder, persona de confianza, compliance with health check-ups) are refused only
  next to a score word (score, rating, rank, grade, index, puntaje, nota, pontuação, ...).
  Need scores over declared facts (poverty_score, pmt_score, sisben_score, vulnerability_index),
  financial facts (credit_score, debts) and attendance as a programme condition
  (school_attendance, attendance_days) are allowed. Attending rallies, demonstrations, marches
  or protests is political activity and refused as political opinion.

The tables are data: add a term to the right category and language, and a test case for it.
Cost is O(tokens) per text: dictionary look-ups, a handful of prefix lengths and short phrases.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from fairshare.errors import InvalidInput

if TYPE_CHECKING:
    from fairshare.catalogue.model import FieldDefinition

__all__ = [
    "ALLOWED_PHRASES",
    "CONTEXTUAL_TERMS",
    "RED_LINE_TERMS",
    "STANDALONE_TERMS",
    "RedLineCategory",
    "RefusedField",
    "Where",
    "check_definition",
    "check_field",
    "find_refused",
    "normalise",
]


class RedLineCategory(StrEnum):
    """A category of data Fairshare never stores (DESIGN.md red lines 1 and 2)."""

    POLITICAL_OPINION = "political_opinion"
    PARTY_MEMBERSHIP = "party_membership"
    VOTING = "voting"
    RELIGION = "religion"
    ETHNIC_ORIGIN = "ethnic_origin"
    TRADE_UNION = "trade_union"
    SEX_LIFE_OR_ORIENTATION = "sex_life_or_orientation"
    SOCIAL_MEDIA = "social_media"
    BEHAVIOUR_SCORE = "behaviour_score"

    @property
    def label(self) -> str:
        """The category in plain words, as DESIGN.md names it."""
        return _LABELS[self]


_LABELS: dict[RedLineCategory, str] = {
    RedLineCategory.POLITICAL_OPINION: "political opinion",
    RedLineCategory.PARTY_MEMBERSHIP: "party membership",
    RedLineCategory.VOTING: "voting or electoral participation",
    RedLineCategory.RELIGION: "religion or belief",
    RedLineCategory.ETHNIC_ORIGIN: "ethnic origin",
    RedLineCategory.TRADE_UNION: "trade-union membership",
    RedLineCategory.SEX_LIFE_OR_ORIENTATION: "sex life or sexual orientation",
    RedLineCategory.SOCIAL_MEDIA: "social-media accounts or activity",
    RedLineCategory.BEHAVIOUR_SCORE: "behaviour or loyalty score",
}

# Why a category is refused, by the red line it breaks; red line 1 unless listed.
_SPECIAL_CATEGORY = (
    "Fairshare never stores political or other special-category data (DESIGN.md red line 1)"
)
_WHY: dict[RedLineCategory, str] = {
    RedLineCategory.BEHAVIOUR_SCORE: (
        "Fairshare never scores a person's conduct or loyalty (DESIGN.md red line 2)"
    ),
}

Where = Literal["name", "label", "description", "purpose", "choices"]

_WHERE_WORDS: dict[str, str] = {
    "name": "its name",
    "label": "its label",
    "description": "its description",
    "purpose": "its purpose",
    "choices": "one of its choices",
}


class RefusedField(InvalidInput):
    """A field definition is about a red-line category; it is refused and nothing is stored."""

    def __init__(self, field_name: str, category: RedLineCategory, term: str, where: Where) -> None:
        super().__init__(
            f"Refused: field {field_name!r} is about {category.label} (matched {term!r} in "
            f"{_WHERE_WORDS[where]}). {_WHY.get(category, _SPECIAL_CATEGORY)}; nothing was "
            "stored.",
            errors=[{"field": where, "reason": f"refused category: {category.label}"}],
        )
        self.field_name = field_name
        self.category = category
        self.term = term
        self.where: Where = where


_C = RedLineCategory

# The tables are laid out by hand, several words to a line, so they stay readable.
# fmt: off

# Entry syntax, per category and language:
#   "word"        one token; its plural forms match too
#   "word*"       any token starting with word (a family: religi* = religion, religious,
#                 religião, religiosidade)
#   "two words"   adjacent tokens, articles and prepositions ignored ("cor da pele" = "cor pele")
# Write words as people spell them; accents and case are folded when the tables are built.
RED_LINE_TERMS: Mapping[RedLineCategory, Mapping[str, tuple[str, ...]]] = {
    _C.POLITICAL_OPINION: {
        # politic* also covers es/pt política, político, politização; the harmless policy
        # senses ("política social") are in ALLOWED_PHRASES.
        "en": (
            "politic*", "ideolog*", "partisan", "left wing", "right wing", "leftist",
            "rightist", "activist", "activism", "protester", "protestor", "dissident",
            "communist", "socialist", "fascist", "anarchist", "marxist",
            # taking part in protests and rallies; "demonstration" and "march" are contextual
            "protest", "rally",
        ),
        "es": (
            "izquierdista", "derechista", "activista", "activismo", "manifestante",
            "disidente", "oficialista", "comunista", "socialista", "fascista", "anarquista",
            "marxista", "protesta", "mitin", "cacerolazo",
        ),
        # pt "comício" folds to es "comicio" (elections) and is refused as voting.
        "pt": (
            "esquerdista", "direitista", "ativista", "ativismo", "dissidente", "governista",
            "protesto", "passeata",
        ),
    },
    _C.PARTY_MEMBERSHIP: {
        # Bare "party"/"partido" are ambiguous (a third party; an Argentine district): see
        # CONTEXTUAL_TERMS and STANDALONE_TERMS. These phrases also win over politic*.
        "en": ("political party",),
        "es": (
            "partido político", "partidario", "partidaria", "partidista", "partidismo",
            "militante", "militancia",
        ),
        "pt": ("partidário", "partidária", "militância"),
    },
    _C.VOTING: {
        # "cédula" alone is the national identity card in much of Latin America: allowed;
        # "cédula electoral" is refused through elector*.
        "en": (
            "vote", "voted", "voter", "voting", "ballot", "election", "elector*", "referendum",
            "plebiscite", "suffrage", "polling station", "polling place", "polling booth",
        ),
        "es": (
            "voto", "votar", "votó", "votante", "votación", "votado", "votada", "votaron",
            "elección", "comicio", "sufragio", "sufragó", "plebiscito", "referendo",
        ),
        "pt": (
            "votou", "votaram", "votação", "eleição", "eleitor*", "sufrágio", "plebiscito",
            "referendo",
        ),
    },
    _C.RELIGION: {
        # Not "parish"/"parroquia"/"freguesia": they are administrative areas (Jamaica,
        # Ecuador, Venezuela, Portugal). Not "fe": "fe de vida" is a pension proof of life.
        "en": (
            "religi*", "irreligi*", "faith", "belief", "creed", "church", "mosque",
            "synagogue", "temple", "congregation", "worship", "sect", "tithe", "catholic*",
            "protestant*", "evangel*", "pentecost*", "christian*", "muslim*", "moslem*",
            "islam*", "jew", "jewish", "judais*", "hindu", "hinduism", "buddhis*", "sikh",
            "sikhism", "atheis*", "agnostic*", "mormon*", "jehovah*", "adventist*", "baptist",
        ),
        "es": (
            "iglesia", "mezquita", "sinagoga", "templo", "congregación", "creencia", "credo",
            "secta", "diezmo", "feligrés", "católico", "católica", "evangélico", "evangélica",
            "cristian*", "musulmán", "musulmana", "judío", "judía", "judaísmo", "budis*",
            "ateo", "atea", "ateís*", "agnóstico", "agnóstica", "jehová", "adventista",
            "santería",
        ),
        "pt": (
            "igreja", "mesquita", "congregação", "crença", "seita", "dízimo", "cristão",
            "cristã", "muçulman*", "judeu", "judia", "ateu", "ateia", "espírita", "espiritismo",
            "umbanda", "candomblé",
        ),
    },
    _C.ETHNIC_ORIGIN: {
        # Not bare "afro*": it would catch es "afrontamiento" (coping strategies).
        # Not "native": "native language" is an allowed field. Not colour words alone.
        "en": (
            "ethn*", "race", "racial", "tribe", "tribal", "caste", "clan", "indigenous",
            "aboriginal", "aborigine", "afro", "afrodescend*", "afroamerican*",
            "african american", "first nation", "native american", "skin colour",
            "skin color", "skin tone", "caucasian", "hispanic", "romani",
        ),
        "es": (
            "etni*", "etno*", "raza", "tribu", "tribus", "casta", "indígena", "aborigen",
            "afrocolombian*", "afroecuatorian*", "afroperuan*", "afrolatin*", "afrocaribe*",
            "pueblo originario", "color de piel", "tono de piel", "mestizo", "mestiza",
            "mulato", "mulata", "gitano", "gitana",
        ),
        "pt": (
            "raça", "tribo", "afrobrasileir*", "quilombola", "quilombo", "povo originário",
            "cor da pele", "tom de pele", "mestiço", "mestiça", "cigano", "cigana",
        ),
    },
    _C.TRADE_UNION: {
        # Bare "union"/"unión"/"união" is usually a marital status: see CONTEXTUAL_TERMS.
        "en": (
            "trade union", "labour union", "labor union", "unionised", "unionized",
            "unionisation", "unionization", "shop steward",
        ),
        # sindical* also covers pt sindicalizado, sindicais; not sindica*: pt sindicância
        # is an administrative inquiry.
        "es": ("sindicat*", "sindical*", "afiliación gremial", "militancia sindical"),
        "pt": ("militância sindical",),
    },
    _C.SEX_LIFE_OR_ORIENTATION: {
        # Not "sex"/"sexo": a person's sex is an allowed core field. Gender identity is not
        # on the red-line list and is not refused here.
        "en": (
            "sexual orientation", "sexual preference", "sexual identity", "sexual minority",
            "sex life", "sexual life", "sexlife", "sexual activity", "sexual behaviour",
            "sexual behavior", "sexual partner", "sexual history", "sexual practice",
            "sexuality", "lgbt*", "glbt*", "homosex*", "heterosex*", "bisex*", "pansex*",
            "asexual", "gay", "lesbian", "queer",
        ),
        "es": (
            "orientación sexual", "preferencia sexual", "vida sexual", "actividad sexual",
            "conducta sexual", "comportamiento sexual", "pareja sexual", "práctica sexual",
            "sexualidad", "lesbiana",
        ),
        "pt": (
            "orientação sexual", "atividade sexual", "comportamento sexual", "parceiro sexual",
            "parceira sexual", "sexualidade", "homossex*", "heterossex*", "bissex*", "lésbica",
            "assexual",
        ),
    },
    _C.SOCIAL_MEDIA: {
        # A phone number is contact data, allowed; an account, handle, follower list or post
        # on a social platform is not. Messaging apps: see CONTEXTUAL_TERMS.
        "en": (
            "social media", "socialmedia", "social network", "social networking",
            "social handle", "online activity", "online presence", "online post", "facebook",
            "fb", "twitter", "tweet", "retweet", "instagram", "tiktok", "youtube", "youtuber",
            "snapchat", "linkedin", "reddit", "pinterest", "tumblr", "weibo", "kwai",
            "mastodon", "hashtag", "influencer", "follower",
        ),
        "es": ("red social", "medio social", "actividad en línea", "seguidor"),
        "pt": ("rede social", "mídia social", "atividade online"),
    },
    _C.BEHAVIOUR_SCORE: {
        # Words that only name a judgement of the person, refused on their own. A merchant
        # loyalty card is refused too: it is a record of purchase behaviour, not a need fact.
        # Conduct, behaviour, trust and compliance are refused only next to a score word: see
        # CONTEXTUAL_TERMS. "credit" alone is financial and allowed; "social credit" is not.
        "en": (
            "loyalty", "loyal", "loyalist", "disloyal*", "trustworthiness", "trustworthy",
            "untrustworth*", "obedien*", "disobedien*", "patriot*", "reputation", "attitude",
            "fidelity", "social credit",
        ),
        # obedien* and patriot* also cover es/pt obediencia, obediência, patriota, patriótico.
        "es": (
            "lealtad", "leal", "desleal*", "confiabilidad", "desobedien*", "reputación",
            "actitud", "fideli*", "crédito social",
        ),
        "pt": ("lealdade", "confiabilidade", "reputação", "atitude"),
    },
}

# Words that turn a conduct, trust or compliance word into a score of the person.
_SCORE_WORDS = (
    "score", "scoring", "scored", "scorecard", "rating", "rated", "rank", "ranking", "ranked",
    "grade", "graded", "grading", "index", "points", "tier",
    "puntaje", "puntuación", "puntuar", "puntos", "calificación", "calificar", "nota",
    "índice", "clasificación", "escalafón",
    "pontuação", "pontuar", "pontos", "escore", "classificação",
)
# Words that, next to a conduct or trust word, make it a judgement of the person; not used
# with compliance, where "assessment of compliance with health check-ups" is a programme
# condition.
_JUDGEMENT_WORDS = (
    "level", "evaluation", "assessment", "appraisal", "flag", "civic", "citizen", "moral",
    "nivel", "evaluación", "valoración", "cívico", "cívica", "ciudadano", "ciudadana",
    "nível", "avaliação", "cidadão", "cidadã",
)
# Words that make a demonstration or march a political one the person took part in.
_TAKING_PART_WORDS = (
    "participation", "participate", "participated", "participant", "joined", "street",
    "mass", "anti", "antigovernment", "protest",
    "participación", "participó", "participa", "participante", "callejera", "callejero",
    "masiva", "antigubernamental", "protesta",
    "participação", "participou", "rua", "antigovernamental", "protesto",
)

# Words refused only when a context word stands within _CONTEXT_WINDOW words of them:
# (category, words, context words).
CONTEXTUAL_TERMS: tuple[tuple[RedLineCategory, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        # "party" is a contract party or a group of people unless it sits near politics.
        _C.PARTY_MEMBERSHIP,
        ("party", "partido"),
        (
            "member", "membership", "affiliation", "affiliated", "affiliate", "card",
            "supporter", "sympathiser", "sympathizer", "preference", "loyalty", "loyalist",
            "ruling", "opposition", "militant", "candidate", "vote", "voter", "voted",
            "voting", "political", "politics",
            "miembro", "afiliación", "afiliado", "afiliada", "carnet", "simpatizante",
            "preferencia", "opositor", "oposición", "gobernante", "candidato", "candidata",
            "político", "política", "membro", "filiação", "filiado", "filiada", "carteirinha",
            "oposição",
        ),
    ),
    (
        # unión / união is mostly a marital status (unión libre, união estável); "União" is
        # also Brazil's federal government. Refused only as a workers' union.
        _C.TRADE_UNION,
        ("union", "unión", "união"),
        (
            "trade", "labour", "labor", "member", "membership", "dues", "affiliation",
            "affiliated", "steward", "delegate", "representative", "organiser", "organizer",
            "worker", "obrero", "obrera", "trabajador", "trabajadora", "miembro", "afiliación",
            "afiliado", "afiliada", "cuota", "delegado", "delegada", "gremial", "laboral",
            "trabalhador", "trabalhadora", "operário", "operária", "membro", "filiação",
            "filiado", "filiada",
        ),
    ),
    (
        # "compliance with health check-ups" is a programme condition; a compliance score
        # is a score of the person's conduct.
        _C.BEHAVIOUR_SCORE,
        ("compliance", "cumplimiento", "cumprimento", "conformidade"),
        _SCORE_WORDS,
    ),
    (
        # "conduct disorder", "persona de confianza", "comportamento alimentar" are allowed;
        # a conduct score, a trust level or "conducta ciudadana" is not.
        _C.BEHAVIOUR_SCORE,
        (
            "conduct", "behaviour", "behavior", "trust", "conducta", "comportamiento",
            "confianza", "conduta", "comportamento", "confiança",
        ),
        (*_SCORE_WORDS, *_JUDGEMENT_WORDS),
    ),
    (
        # "senior citizen", "cartão de cidadão" are allowed; a citizen score is not.
        _C.BEHAVIOUR_SCORE,
        ("citizen", "ciudadano", "ciudadana", "cidadão", "cidadã"),
        _SCORE_WORDS,
    ),
    (
        # A cooking demonstration or a declaration of assets (manifestación de bienes) is
        # allowed; attending a demonstration is political activity.
        _C.POLITICAL_OPINION,
        ("demonstration", "manifestación", "manifestação"),
        (
            *_TAKING_PART_WORDS, "attend", "attended", "attending", "attendance", "attendee",
            "asistencia", "asistió", "asiste", "asistente", "comparecimento", "compareceu",
            "presença",
        ),
    ),
    (
        # es/pt "marcha" is also a person's gait ("requiere asistencia para la marcha"), so
        # attendance words are not context here. English "march" is a month: not listed.
        _C.POLITICAL_OPINION,
        ("marcha",),
        _TAKING_PART_WORDS,
    ),
    (
        # A WhatsApp or Telegram number is a phone contact; its groups and channels are
        # social-media activity.
        _C.SOCIAL_MEDIA,
        ("whatsapp", "telegram", "wechat"),
        (
            "group", "grupo", "channel", "canal", "community", "comunidad", "comunidade",
            "follower", "seguidor", "status", "post", "story",
        ),
    ),
)
_CONTEXT_WINDOW = 2

# Ambiguous words refused when they are the whole text ("partido" as a field name), but not
# as an enumeration choice, where "partido" is an Argentine district.
STANDALONE_TERMS: Mapping[RedLineCategory, tuple[str, ...]] = {
    _C.PARTY_MEMBERSHIP: ("party", "partido"),
}

# Harmless phrases that contain a red-line or context word; they are masked before matching.
ALLOWED_PHRASES: tuple[str, ...] = (
    # a contract party, not a political one
    "third party",
    # marital statuses (census categories), and organisations that are not trade unions
    "civil union", "consensual union", "free union", "credit union", "european union",
    "unión civil", "unión libre", "unión de hecho", "unión consensual", "unión marital",
    "unión europea", "união civil", "união estável", "união de facto", "união consensual",
    "união europeia",
    # policy, not politics; DANE's "división político-administrativa" is geography
    "política social", "política pública", "política de privacidad",
    "política de privacidade", "político administrativa", "político administrativo",
    "political subdivision",
    # choosing a benefit option, not an election
    "benefit election", "pension election", "coverage election", "payment election",
    "libre elección",
    # old British for a given name; honest dealing; livestock breeds
    "christian name", "good faith", "raza de ganado", "raza animal", "raça animal",
    "raça do gado",
    # an evacuation meeting point; farming and nutrition demonstrations; declarations of
    # assets or of will; clinical signs
    "rally point", "cooking demonstration", "nutrition demonstration", "demonstration plot",
    "demonstration farm", "demonstration garden", "manifestación de bienes",
    "manifestación de voluntad", "manifestación clínica", "manifestação de vontade",
    "manifestação de interesse", "manifestação clínica",
    # a sworn statement (Mexico); a protested debt or cheque (financial, allowed); an invoice
    "protesta de decir verdad", "protesto de título", "protesto em cartório",
    "protesto de cheque", "protesto de letra", "nota fiscal",
)

# Articles, prepositions and conjunctions (en, es, pt), skipped so that phrases match across
# them ("membro do partido", "color de piel").
_STOPWORDS = frozenset((
    "a", "an", "and", "any", "are", "as", "at", "by", "for", "from", "in", "is", "it", "its",
    "of", "on", "or", "per", "the", "their", "to", "with",
    "de", "del", "la", "el", "lo", "los", "las", "un", "una", "unos", "unas", "en", "por",
    "para", "y", "e", "o", "u", "con", "al", "su", "sus", "que", "se",
    "do", "da", "dos", "das", "um", "uma", "em", "no", "na", "nos", "nas", "ao", "aos", "à",
    "às", "pelo", "pela", "seu", "sua",
))

# fmt: on

# Plural endings and the singular they come from (pt religiões, capitães; pt sindicais,
# papéis; en parties). Plain -s and -es are handled in _forms.
_PLURAL_ENDINGS = (("ões", "ão"), ("ães", "ão"), ("ais", "al"), ("éis", "el"), ("ies", "y"))

_RUN = re.compile(r"(?:[^\W_]|[\u0300-\u036f])+")
_NON_ALNUM = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class _Token:
    text: str  # as written
    norm: str  # folded: casefold, accents removed


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_FOLDED_PLURAL_ENDINGS = tuple((_fold(p), _fold(s)) for p, s in _PLURAL_ENDINGS)


def _split_run(run: str) -> list[str]:
    """Split one alphanumeric run at camelCase and letter/digit boundaries.

    Combining accents (text in NFD) never start a piece and are skipped when looking back.
    """
    pieces: list[str] = []
    begin = 0
    prev = run[0]
    for k in range(1, len(run)):
        cur = run[k]
        if unicodedata.combining(cur):
            continue
        nxt = run[k + 1] if k + 1 < len(run) else ""
        acronym_end = (
            cur.isupper()
            and prev.isupper()
            and nxt.islower()
            # "LGBTs": a plural s after an acronym stays with it
            and not (nxt == "s" and k + 2 == len(run))
        )
        if (
            (cur.isupper() and (prev.islower() or prev.isdigit()))
            or acronym_end
            or cur.isdigit() != prev.isdigit()
        ):
            pieces.append(run[begin:k])
            begin = k
        prev = cur
    pieces.append(run[begin:])
    return pieces


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _RUN.finditer(unicodedata.normalize("NFC", text)):
        for piece in _split_run(match.group()):
            # Folding can expose separators (e.g. NFKD of "½" is "1⁄2"): split again.
            for norm in _NON_ALNUM.split(_fold(piece)):
                if norm:
                    tokens.append(_Token(piece, norm))
    return tokens


def normalise(text: str) -> list[str]:
    """Folded tokens of text: camelCase and separators split, casefolded, accents removed.

    >>> normalise("religiãoDoChefe-de_HOGAR")
    ['religiao', 'do', 'chefe', 'de', 'hogar']
    """
    return [token.norm for token in _tokens(text)]


def _forms(norm: str) -> tuple[str, ...]:
    """The token, then the singulars it may be a plural of, in a fixed order.

    Over-generating is harmless: only forms that are listed terms matter.
    """
    forms = [norm]
    if len(norm) > 3 and norm.endswith("s"):
        if not norm.endswith(("ss", "us", "is")):
            forms.append(norm[:-1])  # votes -> vote, partidos -> partido
        if norm.endswith("es"):
            forms.append(norm[:-2])  # electores -> elector, churches -> church
        for plural, singular in _FOLDED_PLURAL_ENDINGS:
            if norm.endswith(plural):
                forms.append(norm[: -len(plural)] + singular)
    return tuple(forms)


def _phrase(entry: str) -> tuple[str, ...]:
    words = tuple(t.norm for t in _tokens(entry) if t.norm not in _STOPWORDS)
    if not words:
        raise ValueError(f"red-line table entry {entry!r} has no words")
    return words


@dataclass(frozen=True, slots=True)
class _Index:
    words: dict[str, RedLineCategory]
    prefixes: dict[str, RedLineCategory]
    prefix_lengths: tuple[int, ...]
    # first word -> (phrase, category), longest first
    phrases: dict[str, list[tuple[tuple[str, ...], RedLineCategory]]]
    allowed: dict[str, list[tuple[str, ...]]]
    context: dict[str, tuple[RedLineCategory, frozenset[str]]]
    standalone: dict[str, RedLineCategory]


def _build_index() -> _Index:
    words: dict[str, RedLineCategory] = {}
    prefixes: dict[str, RedLineCategory] = {}
    phrases: dict[str, list[tuple[tuple[str, ...], RedLineCategory]]] = {}
    for category, languages in RED_LINE_TERMS.items():
        for entries in languages.values():
            for entry in entries:
                if entry.endswith("*"):
                    (stem,) = _phrase(entry[:-1])
                    prefixes[stem] = category
                    continue
                phrase = _phrase(entry)
                if len(phrase) == 1:
                    words[phrase[0]] = category
                else:
                    phrases.setdefault(phrase[0], []).append((phrase, category))
    for candidates in phrases.values():
        candidates.sort(key=lambda item: -len(item[0]))
    allowed: dict[str, list[tuple[str, ...]]] = {}
    for entry in ALLOWED_PHRASES:
        phrase = _phrase(entry)
        allowed.setdefault(phrase[0], []).append(phrase)
    for options in allowed.values():
        options.sort(key=lambda item: -len(item))
    context: dict[str, tuple[RedLineCategory, frozenset[str]]] = {}
    for category, terms, context_words in CONTEXTUAL_TERMS:
        folded = frozenset(_phrase(w)[0] for w in context_words)
        for term in terms:
            context[_phrase(term)[0]] = (category, folded)
    standalone = {
        _phrase(term)[0]: category for category, terms in STANDALONE_TERMS.items() for term in terms
    }
    return _Index(
        words=words,
        prefixes=prefixes,
        prefix_lengths=tuple(sorted({len(p) for p in prefixes})),
        phrases=phrases,
        allowed=allowed,
        context=context,
        standalone=standalone,
    )


_INDEX = _build_index()


def _phrase_length(
    candidates: Iterable[tuple[str, ...]],
    forms: list[tuple[str, ...]],
    masked: list[bool],
    start: int,
) -> int:
    """Length of the first (longest) candidate phrase found at start, or 0."""
    for phrase in candidates:
        end = start + len(phrase)
        if end <= len(forms) and all(
            not masked[start + k] and word in forms[start + k] for k, word in enumerate(phrase)
        ):
            return len(phrase)
    return 0


def _word_hit(forms: tuple[str, ...]) -> RedLineCategory | None:
    for form in forms:
        category = _INDEX.words.get(form)
        if category is not None:
            return category
        for length in _INDEX.prefix_lengths:
            if len(form) < length:
                break
            category = _INDEX.prefixes.get(form[:length])
            if category is not None:
                return category
    return None


def _scan(tokens: list[_Token], standalone: bool) -> tuple[RedLineCategory, int, int] | None:
    """First refused term: (category, first token index, last token index) in tokens."""
    content = [k for k, token in enumerate(tokens) if token.norm not in _STOPWORDS]
    forms = [_forms(tokens[k].norm) for k in content]
    count = len(content)
    masked = [False] * count
    position = 0
    while position < count:
        candidates = [p for f in forms[position] for p in _INDEX.allowed.get(f, ())]
        candidates.sort(key=lambda p: -len(p))
        length = _phrase_length(candidates, forms, masked, position)
        for k in range(position, position + length):
            masked[k] = True
        position += max(length, 1)

    for i in range(count):
        if masked[i]:
            continue
        for form in forms[i]:
            for phrase, category in _INDEX.phrases.get(form, ()):
                if _phrase_length((phrase,), forms, masked, i):
                    return category, content[i], content[i + len(phrase) - 1]
        for form in forms[i]:
            rule = _INDEX.context.get(form)
            if rule is None:
                continue
            category, context_words = rule
            for j in range(max(0, i - _CONTEXT_WINDOW), min(count, i + _CONTEXT_WINDOW + 1)):
                if j != i and not masked[j] and not context_words.isdisjoint(forms[j]):
                    return category, content[min(i, j)], content[max(i, j)]
        category_hit = _word_hit(forms[i])
        if category_hit is not None:
            return category_hit, content[i], content[i]

    unmasked = [i for i in range(count) if not masked[i]]
    if standalone and len(unmasked) == 1:
        (i,) = unmasked
        for form in forms[i]:
            category_alone = _INDEX.standalone.get(form)
            if category_alone is not None:
                return category_alone, content[i], content[i]
    return None


def find_refused(text: str, *, standalone: bool = True) -> tuple[RedLineCategory, str] | None:
    """The first red-line category text is about, with the words that matched, or None.

    The matched words are given as written, joined by spaces ("partido politico" for
    "partido_politico"). With standalone=False an ambiguous word that is the whole text
    ("partido") is not refused; check_field uses that for enumeration choices.
    """
    tokens = _tokens(text)
    hit = _scan(tokens, standalone)
    if hit is None:
        return None
    category, first, last = hit
    return category, " ".join(token.text for token in tokens[first : last + 1])


def check_field(
    name: str,
    label: str = "",
    description: str = "",
    choices: Iterable[str] = (),
    *,
    purpose: str = "",
) -> None:
    """Raise RefusedField if a field is about a red-line category.

    Looks at the name, then the label, the description, the purpose and each enumeration
    choice, and reports the first hit.
    """
    texts: tuple[tuple[Where, str], ...] = (
        ("name", name),
        ("label", label),
        ("description", description),
        ("purpose", purpose),
    )
    for where, text in texts:
        hit = find_refused(text)
        if hit is not None:
            raise RefusedField(name, hit[0], hit[1], where)
    for choice in choices:
        hit = find_refused(choice, standalone=False)
        if hit is not None:
            raise RefusedField(name, hit[0], hit[1], "choices")


def check_definition(definition: FieldDefinition) -> None:
    """Raise RefusedField if a catalogue field definition is about a red-line category."""
    check_field(
        definition.name,
        definition.label,
        definition.description,
        definition.choices,
        purpose=definition.purpose,
    )
