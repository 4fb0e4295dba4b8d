"""Server-rendered pages (Jinja2) for caseworkers, citizens, auditors, administrators and
the public, mounted on the API application by `fairshare.web.app.mount_web`."""
