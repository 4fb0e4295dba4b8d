"""Name and place lists for the synthetic population.

Given and family names come from Faker's Spanish-language person providers (es_CO with its
published frequencies, es_MX and es_ES as a long tail), cleaned once at import. Regions,
municipalities, streets and neighbourhoods are invented for a fictional Latin American country.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping

from faker.providers.person import es_CO, es_ES, es_MX

# Common Spanish nicknames and the formal names they stand for. A registry clerk may write the
# nickname a person gives instead of the name on their identity document.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "Pepe": ("José",),
    "Chepe": ("José",),
    "Paco": ("Francisco",),
    "Pancho": ("Francisco",),
    "Pancha": ("Francisca",),
    "Lupe": ("Guadalupe",),
    "Chucho": ("Jesús",),
    "Chuy": ("Jesús",),
    "Maru": ("María Eugenia",),
    "Toño": ("Antonio",),
    "Toña": ("Antonia",),
    "Nacho": ("Ignacio",),
    "Beto": ("Alberto", "Roberto", "Humberto"),
    "Memo": ("Guillermo",),
    "Lalo": ("Eduardo",),
    "Quique": ("Enrique",),
    "Kike": ("Enrique",),
    "Charo": ("Rosario",),
    "Chayo": ("Rosario",),
    "Concha": ("Concepción",),
    "Conchita": ("Concepción",),
    "Lola": ("Dolores",),
    "Pili": ("Pilar",),
    "Merche": ("Mercedes",),
    "Meche": ("Mercedes",),
    "Chelo": ("Consuelo",),
    "Manolo": ("Manuel",),
    "Rafa": ("Rafael",),
    "Tere": ("Teresa",),
    "Paty": ("Patricia",),
    "Lety": ("Leticia",),
    "Pepa": ("Josefa",),
    "Checo": ("Sergio",),
    "Poncho": ("Alfonso",),
    "Chente": ("Vicente",),
    "Goyo": ("Gregorio",),
    "Licha": ("Alicia",),
    "Chabela": ("Isabel",),
    "Chava": ("Salvador",),
    "Chela": ("Graciela",),
    "Tavo": ("Gustavo",),
    "Nando": ("Fernando",),
    "Fer": ("Fernando", "Fernanda"),
    "Alex": ("Alejandro", "Alejandra"),
    "Chema": ("José María",),
    "Juanjo": ("Juan José",),
    "Maite": ("María Teresa",),
    "Marisa": ("María Luisa",),
    "Mari": ("María",),
    "Chole": ("Soledad",),
    "Nacha": ("Ignacia",),
}


def _nicknames_by_name(nicknames: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    by_name: dict[str, list[str]] = {}
    for nick, formal_names in nicknames.items():
        for formal in formal_names:
            by_name.setdefault(formal, []).append(nick)
    return {name: tuple(nicks) for name, nicks in by_name.items()}


# Formal name -> the nicknames people use for it ("José" -> ("Pepe", "Chepe")).
NICKNAMES_BY_NAME: dict[str, tuple[str, ...]] = _nicknames_by_name(NICKNAMES)

# Faker's lists contain a few misspellings and unaccented duplicates; fix or drop them so that a
# dropped accent in the synthetic data is always a planted error, not an artefact of the source.
_SPELLING_FIXES = {
    "de la Crúz": "de la Cruz",
    "María Del Carmen": "María del Carmen",
    "Múñiz": "Muñiz",
    "Íngrid": "Ingrid",
}
_WORD_FIXES = {"Jose": "José", "Luís": "Luis", "Rafaél": "Rafael", "Wálter": "Walter"}
# Names that differ from an accented one only by the accent, yet are names in their own right.
_DISTINCT = frozenset({"Pina", "Piña", "Valles", "Vallés", "Marti", "Martí"})
_DROP = frozenset({"José Manuél", "Ale", "Chus", "Manu", "Maxi", "Alta Gracia"})

# Compound family names, added on top of Faker's few, with a modest share of draws.
COMPOUND_FAMILY_NAMES: tuple[str, ...] = (
    "de la Cruz",
    "de la Rosa",
    "de la Torre",
    "de la Fuente",
    "de los Santos",
    "de la Hoz",
    "del Río",
    "del Valle",
    "del Castillo",
    "de León",
    "de Jesús",
    "de la Garza",
    "San Martín",
    "Montes de Oca",
    "Ponce de León",
    "de las Casas",
    "de la Peña",
    "del Pino",
)


def strip_accents(text: str) -> str:
    """ "José Núñez" -> "Jose Nunez": what a system without accented letters records."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _clean(names: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for raw in names:
        name = " ".join(_WORD_FIXES.get(word, word) for word in raw.split())
        name = _SPELLING_FIXES.get(name, name)
        if name in _DROP or name in NICKNAMES:
            continue
        seen.setdefault(name, None)
    # Of "Jose Angel", "José Angel" and "José Ángel" keep only the most accented spelling.
    best: dict[str, str] = {}
    for name in seen:
        key = _accent_key(name)
        if key not in best or _accents(name) > _accents(best[key]):
            best[key] = name
    return [n for n in seen if best[_accent_key(n)] == n]


def _accent_key(name: str) -> str:
    return name if name in _DISTINCT else strip_accents(name)


def _accents(name: str) -> int:
    return sum(1 for c in name if not c.isascii())


def _weighted(
    frequent: Mapping[str, float], *others: Iterable[str], tail_share: float
) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Names with probabilities: `frequent` by its published frequencies, the rest uniformly."""
    names = _clean([*frequent, *(n for group in others for n in group)])
    head = {" ".join(k.split()): float(v) for k, v in frequent.items()}
    head_total = sum(head.get(n, 0.0) for n in names)
    tail = 1.0 / len(names)
    weights = [
        (1.0 - tail_share) * head.get(n, 0.0) / head_total + tail_share * tail for n in names
    ]
    total = sum(weights)
    return tuple(names), tuple(w / total for w in weights)


FEMALE_GIVEN_NAMES, FEMALE_GIVEN_WEIGHTS = _weighted(
    es_CO.Provider.first_names_female,
    es_MX.Provider.first_names_female,
    es_ES.Provider.first_names_female,
    tail_share=0.45,
)
MALE_GIVEN_NAMES, MALE_GIVEN_WEIGHTS = _weighted(
    es_CO.Provider.first_names_male,
    es_MX.Provider.first_names_male,
    es_ES.Provider.first_names_male,
    tail_share=0.45,
)
_SIMPLE_FAMILY, _SIMPLE_FAMILY_WEIGHTS = _weighted(
    es_CO.Provider.last_names,
    es_MX.Provider.last_names,
    es_ES.Provider.last_names,
    tail_share=0.4,
)
_COMPOUND_SHARE = 0.03
_extra = tuple(n for n in COMPOUND_FAMILY_NAMES if n not in _SIMPLE_FAMILY)
FAMILY_NAMES: tuple[str, ...] = _SIMPLE_FAMILY + _extra
FAMILY_WEIGHTS: tuple[float, ...] = tuple(
    [w * (1 - _COMPOUND_SHARE) for w in _SIMPLE_FAMILY_WEIGHTS]
    + [_COMPOUND_SHARE / len(_extra)] * len(_extra)
)


# (region, share of the population, share of households that are rural, municipalities).
# The first municipality of each region is its capital and the largest.
REGIONS: tuple[tuple[str, float, float, tuple[str, ...]], ...] = (
    (
        "Capital",
        0.22,
        0.02,
        (
            "Distrito Central",
            "San Rafael de Arriba",
            "Los Próceres",
            "Villa Esperanza",
            "Santa Rosalía",
            "El Recreo",
            "Puente Alto",
        ),
    ),
    (
        "Costa Norte",
        0.14,
        0.18,
        (
            "Puerto Bolívar",
            "Playa Grande",
            "San Juan de la Costa",
            "Boca del Río",
            "Los Cocos",
            "Punta Brava",
        ),
    ),
    (
        "Sierra Central",
        0.13,
        0.42,
        (
            "San Cristóbal de la Sierra",
            "Valle Hermoso",
            "Piedra Azul",
            "Los Andes",
            "Santa Cruz de Mora",
            "El Cobre",
            "La Grita",
        ),
    ),
    (
        "Valle del Sol",
        0.11,
        0.25,
        (
            "Ciudad del Valle",
            "San Felipe",
            "Las Mercedes",
            "Tierra Fértil",
            "El Tocuyo",
        ),
    ),
    (
        "Oriente",
        0.09,
        0.35,
        (
            "Nueva Esperanza",
            "San Tomé",
            "El Tigre",
            "Cantaura",
            "Aragua del Oriente",
            "Pariaguán",
        ),
    ),
    (
        "Llanos Altos",
        0.08,
        0.55,
        (
            "San Fernando del Llano",
            "Calabozo",
            "Guasdualito",
            "Mantecal",
            "El Sombrero",
        ),
    ),
    (
        "Costa Sur",
        0.08,
        0.30,
        (
            "Puerto Ayacucho del Sur",
            "Bahía Serena",
            "San Miguel del Mar",
            "Las Salinas",
            "Caleta Vieja",
        ),
    ),
    (
        "Altiplano",
        0.07,
        0.60,
        (
            "Villa Alta",
            "Santa Bárbara del Páramo",
            "Mucuchíes",
            "Pueblo Llano",
            "Tuñame",
        ),
    ),
    (
        "Sierra Norte",
        0.05,
        0.50,
        (
            "San Antonio de los Altos",
            "Cumbres de Oro",
            "Niquitao",
            "Boconó",
        ),
    ),
    (
        "Selva Baja",
        0.03,
        0.70,
        (
            "Puerto Maldonado Nuevo",
            "San Carlos del Río",
            "Atabapo",
            "La Esmeralda",
        ),
    ),
)

STREET_PREFIXES: tuple[str, ...] = (
    "Calle",
    "Calle",
    "Calle",
    "Avenida",
    "Avenida",
    "Carrera",
    "Pasaje",
    "Callejón",
    "Transversal",
    "Prolongación",
    "Vereda",
    "Diagonal",
)

STREET_NAMES: tuple[str, ...] = (
    "Los Álamos",
    "Bolívar",
    "Sucre",
    "Miranda",
    "Páez",
    "Urdaneta",
    "Libertador",
    "20 de Julio",
    "5 de Julio",
    "19 de Abril",
    "La Paz",
    "Las Flores",
    "Los Mangos",
    "Los Pinos",
    "Las Palmas",
    "El Carmen",
    "San Martín",
    "Independencia",
    "La Unión",
    "Principal",
    "Comercio",
    "Las Acacias",
    "Los Cedros",
    "El Progreso",
    "Santa Ana",
    "San Juan",
    "La Marina",
    "Los Próceres",
    "Andrés Bello",
    "Simón Rodríguez",
    "Juárez",
    "Hidalgo",
    "Morelos",
    "Colón",
    "Rivadavia",
    "Artigas",
    "Martí",
    "Sarmiento",
    "O'Higgins",
    "Santander",
    "Nariño",
    "Las Américas",
    "El Sol",
    "La Luna",
    "Los Girasoles",
    "Las Rosas",
    "Los Jazmines",
    "El Estadio",
    "La Iglesia",
    "El Mercado",
    "La Estación",
    "Circunvalación",
    "Los Sauces",
    "Las Ceibas",
    "Los Samanes",
    "Las Delicias",
    "El Bosque",
    "La Esperanza",
    "Los Cerezos",
    "Buenos Aires",
)

NEIGHBOURHOOD_PREFIXES: tuple[str, ...] = (
    "Barrio",
    "Barrio",
    "Barrio",
    "Urbanización",
    "Sector",
    "Colonia",
    "Conjunto Residencial",
    "Barriada",
)

RURAL_PREFIXES: tuple[str, ...] = ("Caserío", "Vereda", "Aldea", "Sector", "Hacienda", "Finca")

PLACE_NAMES: tuple[str, ...] = (
    "San José",
    "El Paraíso",
    "La Esperanza",
    "Santa Teresa",
    "Los Olivos",
    "El Milagro",
    "La Candelaria",
    "San Isidro",
    "Villa Rosa",
    "El Porvenir",
    "Nueva Granada",
    "Las Brisas",
    "La Victoria",
    "San Vicente",
    "El Rosario",
    "Santa Lucía",
    "La Florida",
    "Los Laureles",
    "El Cementerio",
    "San Agustín",
    "La Pastora",
    "Altamira",
    "Bella Vista",
    "El Valle",
    "Monte Claro",
    "La Trinidad",
    "San Bernardino",
    "Los Rosales",
    "El Calvario",
    "Santa Eduviges",
    "La Concordia",
    "Las Mercedes",
    "Pueblo Nuevo",
    "San Benito",
    "Los Naranjos",
    "El Limón",
    "La Ceiba",
    "Guayabal",
    "Cañaveral",
    "El Samán",
    "La Mora",
    "Palo Verde",
    "Agua Blanca",
    "Loma Linda",
    "Cerro Alto",
    "Río Claro",
    "Las Lajas",
    "El Manantial",
    "Quebrada Honda",
    "Tres Esquinas",
    "La Cruz",
    "San Pedro",
    "El Chorro",
    "Las Tapias",
    "Piedra Negra",
    "Los Caracoles",
    "Mata de Coco",
    "El Cardonal",
    "La Vega",
    "San Rafael",
)

MOBILE_PREFIXES: tuple[str, ...] = ("412", "414", "416", "424", "426")
COUNTRY_CALLING_CODE = "+58"
