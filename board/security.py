"""Who may look and act: HTTP basic authentication, same-origin POSTs, and safe headers."""

import base64
import binascii
import hmac
import json
from typing import Any, Final
from urllib.parse import urlsplit

import tornado.web

from board.config import BoardConfig

#: No script but our own file, nothing from elsewhere, never inside another site's frame.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
REALM: Final = 'Basic realm="kitchen board", charset="UTF-8"'


def authorized(header: str | None, credentials: tuple[str, str] | None) -> bool:
    """Whether an Authorization header carries the board's user and password (or none is set)."""
    if credentials is None:
        return True
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, _, password = given.partition(":")
    same_user = hmac.compare_digest(user.encode(), credentials[0].encode())
    same_password = hmac.compare_digest(password.encode(), credentials[1].encode())
    return bool(same_user and same_password)


def same_origin(headers: Any) -> bool:
    """Whether a POST comes from one of the board's own pages: Origin (else Referer) names Host."""
    host = (headers.get("Host") or "").strip().lower()
    source = headers.get("Origin") or headers.get("Referer")
    if not host or not source or source == "null":
        return False
    parts = urlsplit(source.strip())
    if parts.scheme not in ("http", "https"):
        return False
    return bool(parts.netloc.lower() == host)


class Guarded(tornado.web.RequestHandler):
    """Base of every handler: the password first, same-origin POSTs, the safety headers."""

    def set_default_headers(self) -> None:
        """Headers on every answer, errors included."""
        self.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "same-origin")

    @property
    def config(self) -> BoardConfig:
        """The board's settings."""
        config: BoardConfig = self.application.settings["board_config"]
        return config

    def prepare(self) -> None:
        """Refuse a request without the password (401) or a cross-site POST (403)."""
        if not authorized(self.request.headers.get("Authorization"), self.config.credentials):
            self.set_header("WWW-Authenticate", REALM)
            self.refuse(401, "this board needs its password (HTTP basic authentication)")
            return
        if self.request.method not in ("GET", "HEAD", "OPTIONS") and not same_origin(
            self.request.headers
        ):
            self.refuse(403, "refused: this request does not come from the board's own pages")

    def refuse(self, status: int, message: str) -> None:
        """Answer with `status` and a one-line JSON error, and end the request."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps({"error": message}))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors as one line of JSON, never a traceback."""
        reason = self._reason or "error"
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            reason = exc.log_message % exc.args if exc.args else exc.log_message
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": reason}))


class GuardedStatic(tornado.web.StaticFileHandler):
    """Static files (our script and style) behind the same password and headers."""

    def set_default_headers(self) -> None:
        """The same safety headers as the pages."""
        Guarded.set_default_headers(self)  # type: ignore[arg-type]

    def prepare(self) -> None:
        """Refuse without the password."""
        config: BoardConfig = self.application.settings["board_config"]
        if not authorized(self.request.headers.get("Authorization"), config.credentials):
            self.set_header("WWW-Authenticate", REALM)
            self.set_status(401)
            self.finish("this board needs its password (HTTP basic authentication)\n")
