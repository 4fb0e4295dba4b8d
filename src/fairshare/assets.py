"""The assets a benefit can be paid in, and their amounts as integers of a minor unit.

Amounts never pass through floats: 130.00 in local currency is 13000 cents, 40 litres of fuel
is 40000 millilitres. A person enters amounts in the asset's entry unit (currency units,
litres, whole baskets) with at most `scale` decimal places; everything stored is the integer.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from fairshare.errors import InvalidInput


class Asset(StrEnum):
    LOCAL_CURRENCY = "local_currency"
    FUEL = "fuel"
    FOOD_BASKET = "food_basket"
    MEDICINE_PACK = "medicine_pack"


@dataclass(frozen=True)
class AssetDefinition:
    """An asset: how its entry unit is written (one, many; per language) and its decimals."""

    asset: Asset
    label: str
    entry_unit: str
    minor_unit: str
    scale: int
    # language → (one, many): "1 pack", "2 packs"
    units: tuple[tuple[str, str, str], ...] = ()

    @property
    def minor_per_unit(self) -> int:
        return int(10**self.scale)

    def unit(self, value: Decimal, language: str = "en") -> str:
        for code, one, many in self.units:
            if code == language:
                return one if value == 1 else many
        return self.entry_unit


ASSETS: dict[Asset, AssetDefinition] = {
    Asset.LOCAL_CURRENCY: AssetDefinition(
        Asset.LOCAL_CURRENCY,
        "local currency",
        "local currency",
        "cents",
        2,
        (("en", "local currency", "local currency"), ("es", "moneda local", "moneda local")),
    ),
    Asset.FUEL: AssetDefinition(
        Asset.FUEL,
        "fuel",
        "litres",
        "millilitres",
        3,
        (
            ("en", "litre of fuel", "litres of fuel"),
            ("es", "litro de combustible", "litros de combustible"),
        ),
    ),
    Asset.FOOD_BASKET: AssetDefinition(
        Asset.FOOD_BASKET,
        "food basket",
        "baskets",
        "baskets",
        0,
        (
            ("en", "food basket", "food baskets"),
            ("es", "canasta de alimentos", "canastas de alimentos"),
        ),
    ),
    Asset.MEDICINE_PACK: AssetDefinition(
        Asset.MEDICINE_PACK,
        "medicine pack",
        "packs",
        "packs",
        0,
        (
            ("en", "medicine pack", "medicine packs"),
            ("es", "paquete de medicinas", "paquetes de medicinas"),
        ),
    ),
}


class UnknownAsset(InvalidInput):
    def __init__(self, code: str) -> None:
        known = ", ".join(a.value for a in Asset)
        super().__init__(
            f"asset {code[:40]!r} is not known; a benefit is paid in one of: {known}",
            errors=[{"field": "asset", "reason": f"unknown asset; use one of {known}"}],
        )


def asset_definition(code: str) -> AssetDefinition:
    """The asset named by `code`; raises UnknownAsset."""
    try:
        return ASSETS[Asset(code)]
    except ValueError:
        raise UnknownAsset(code) from None


def to_minor_units(code: str, amount: str | int | Decimal) -> int:
    """An amount in the asset's entry unit ("130.00", "40", 40) as an integer of minor units.

    Raises UnknownAsset, or InvalidInput for floats, non-numbers and too many decimal places.
    """
    definition = asset_definition(code)
    if isinstance(amount, bool) or not isinstance(amount, str | int | Decimal):
        # A float has already lost the exact amount (0.1 + 0.2); ask for text instead.
        raise InvalidInput(
            f"give the amount as text or a whole number, e.g. '130.00', not {amount!r}",
            errors=[{"field": "amount", "reason": "must be text like '130.00' or an integer"}],
        )
    try:
        value = Decimal(amount.strip()) if isinstance(amount, str) else Decimal(amount)
    except InvalidOperation:
        raise InvalidInput(
            f"amount {str(amount)[:40]!r} is not a number; write it like '130.00'",
            errors=[{"field": "amount", "reason": "is not a number"}],
        ) from None
    if not value.is_finite():
        raise InvalidInput(
            "the amount must be a finite number", errors=[{"field": "amount", "reason": "finite"}]
        )
    minor = value.scaleb(definition.scale)
    if minor != minor.to_integral_value():
        raise InvalidInput(
            f"{definition.label} amounts take at most {definition.scale} decimal places "
            f"({definition.entry_unit}); got {amount}",
            errors=[{"field": "amount", "reason": f"at most {definition.scale} decimal places"}],
        )
    return int(minor)


def format_amount(code: str, minor: int, language: str = "en") -> str:
    """Minor units written in the entry unit: 13000 → '130.00 local currency', 1 → '1 food
    basket'; language 'en' or 'es' (other languages get the English unit)."""
    definition = asset_definition(code)
    value = Decimal(minor).scaleb(-definition.scale)
    if definition.asset is Asset.LOCAL_CURRENCY:
        number = f"{value:,.{definition.scale}f}"  # money always shows its cents
    else:
        # "40 litres", not "40.000 litres" (which reads as forty thousand in Spanish).
        number = f"{value.normalize():,f}"
    return f"{number} {definition.unit(value, language)}"
