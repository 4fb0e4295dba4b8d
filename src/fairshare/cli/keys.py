"""`fairshare keys`: the encryption keys in the key directory."""

from __future__ import annotations

import typer

from fairshare.cli.console import console
from fairshare.keys import KEY_PREFIX, FieldCipher, generate_key
from fairshare.settings import get_settings

app = typer.Typer(help="Encryption keys for health data (AES-256-GCM).", no_args_is_help=True)


@app.command()
def init() -> None:
    """Create the first key if the key directory has none."""
    directory = get_settings().keys_path
    cipher = FieldCipher.from_directory(directory)
    console.print(f"key directory {directory}: current key {cipher.current}")


@app.command()
def rotate() -> None:
    """Add a new key; new values use it, old values still open with their own key."""
    directory = get_settings().keys_path
    path = generate_key(directory)
    count = len(list(directory.glob(f"{KEY_PREFIX}*")))
    console.print(f"new key {path.name}; {count} keys in {directory}")
