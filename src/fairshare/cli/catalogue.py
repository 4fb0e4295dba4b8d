"""`fairshare catalogue`: list and declare fields."""

from __future__ import annotations

from decimal import Decimal

import typer
from rich.table import Table

from fairshare.catalogue import services as catalogue_services
from fairshare.catalogue.model import Entity, FieldDefinition, FieldType, Sensitivity
from fairshare.cli.console import console, operator, reported, services
from fairshare.identity.model import Purpose

app = typer.Typer(
    help="The data catalogue: every field Fairshare may hold, and why.", no_args_is_help=True
)


@app.command("list")
def list_fields(entity: Entity | None = typer.Option(None, help="person or household")) -> None:
    """Show every declared field with its type, sensitivity and purpose."""
    table = Table("entity", "name", "type", "sensitivity", "purpose", "programmes", "core")
    for definition in catalogue_services.list_fields(services().uow()):
        if entity is not None and definition.entity is not entity:
            continue
        table.add_row(
            definition.entity.value,
            definition.name,
            definition.type.value,
            definition.sensitivity.value,
            definition.purpose,
            ", ".join(definition.programmes) or "-",
            "yes" if definition.core else "",
        )
    console.print(table)


@app.command()
def add(
    name: str = typer.Argument(..., help="lowercase_with_underscores"),
    label: str = typer.Option(..., help="What a person sees"),
    type_: FieldType = typer.Option(..., "--type"),
    purpose: str = typer.Option(..., help="Why Fairshare needs this field"),
    entity: Entity = typer.Option(Entity.PERSON),
    description: str = typer.Option(""),
    sensitivity: Sensitivity = typer.Option(Sensitivity.PERSONAL),
    choice: list[str] = typer.Option([], help="Enumeration choice (repeat)"),
    programme: list[str] = typer.Option([], help="Programme that may use it (repeat)"),
    required: bool = typer.Option(False),
    max_length: int = typer.Option(200),
    minimum: str | None = typer.Option(None),
    maximum: str | None = typer.Option(None),
) -> None:
    """Declare a custom field. Refused (exit 2) for red-line categories or bad definitions."""
    with reported():
        definition = FieldDefinition(
            name=name,
            label=label,
            type=type_,
            entity=entity,
            purpose=purpose,
            sensitivity=sensitivity,
            description=description,
            programmes=tuple(programme),
            choices=tuple(choice),
            required=required,
            max_length=max_length,
            minimum=None if minimum is None else Decimal(minimum),
            maximum=None if maximum is None else Decimal(maximum),
        )
        catalogue_services.declare_field(
            services().uow(), operator(Purpose.ADMINISTRATION), definition
        )
    console.print(f"declared {entity.value} field [bold]{name}[/] ({type_.value}): {purpose}")
