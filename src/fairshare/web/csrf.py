"""Cross-site request forgery protection for every form.

Signed-in visitors: the synchronizer token pattern, the session's own random secret in a
hidden field of every form. Visitors not yet signed in (the login and language forms) have no
session, so they get a random pre-session cookie and the form carries its HMAC under the
deployment's secret key; a forged form from another site can neither read the cookie nor
compute the HMAC. Both cookies are `__Host-` cookies, so no subdomain can plant one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

FIELD_NAME = "csrf_token"
PRESESSION_COOKIE = "__Host-fairshare-presession"


def new_presession() -> str:
    return secrets.token_urlsafe(32)


def presession_token(secret_key: str, presession: str) -> str:
    return hmac.new(secret_key.encode(), presession.encode(), hashlib.sha256).hexdigest()


def matches(expected: str | None, submitted: str | None) -> bool:
    """Constant-time comparison; a missing token on either side never matches."""
    if not expected or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())
