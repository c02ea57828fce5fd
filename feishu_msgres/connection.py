"""What every client shares: the session, the base URL, the timeout, the gate, the dialect;
and the set-up both clients do the same way (checks, ``from_env``, closing the session).
"""
from __future__ import annotations

import os
import re
from typing import Any, ClassVar, Dict, Mapping, NamedTuple, Optional, Tuple, Type, TypeVar, Union
from urllib.parse import urlsplit

import requests

from .answers import json_call, read_json
from .endpoints import Call, full_url
from .errors import ConfigError
from .platforms import Dialect
from .ratelimit import Gate
from .transport import Retry, environment_for, make_session, redirect_refused, send

Timeout = Union[float, Tuple[float, float]]
DEFAULT_TIMEOUT: Timeout = (10.0, 60.0)
C = TypeVar("C", bound="ClientBase")


class Connection(NamedTuple):
    """Where requests go and how: one client's, or an export's view of it (``with_gate``)."""

    session: requests.Session
    base_url: str
    dialect: Dialect
    timeout: Timeout = DEFAULT_TIMEOUT
    gate: Gate = Gate()

    def with_gate(self, gate: Gate) -> "Connection":
        """The same session and settings; every request through ``gate``."""
        return self._replace(gate=gate)

    def url(self, path: str) -> str:
        return full_url(self.base_url, path)

    def send(self, call: Call, *, auth: Any = None, stream: bool = False, headers: Optional[Dict[str, str]] = None,
             env: Optional[Dict[str, Any]] = None, hooks: Optional[Dict[str, Any]] = None,
             redirects: bool = True) -> requests.Response:
        """Send ``call`` (with more ``headers``) through this connection's gate."""
        merged = dict(call.headers, **headers) if headers else dict(call.headers)
        body = call.body()  # sealed: the secrets in it never show in a frame's locals
        if body is not None:
            merged.setdefault("Content-Type", "application/json")
        return send(self.session, call.method, self.url(call.path), gate=self.gate, env=env, timeout=self.timeout,
                    stream=stream, auth=auth, params=call.params or None, headers=merged or None, data=body,
                    hooks=hooks, allow_redirects=redirects)

    def json(self, call: Call, *, auth: Any = None, dialect: Optional[Dialect] = None,
             redirects: bool = True) -> Dict[str, Any]:
        """Send ``call`` and read its JSON answer (or raise the APIError it carries). Streamed,
        so that its size and time are bounded (``answers.read_json``). ``redirects=False``
        (token requests, whose bodies carry the app's secret): a redirect is an error."""
        answer = self.send(call, auth=auth, stream=True, hooks={"response": json_call}, redirects=redirects)
        if answer.is_redirect and not redirects:
            raise redirect_refused(answer, "the app's credentials go to %s only" % self.base_url)
        return read_json(answer, dialect or self.dialect)

    def environment(self, path: str) -> Dict[str, Any]:
        return environment_for(self.session, self.url(path))


def checked_base_url(base_url: str) -> str:
    url = base_url.rstrip("/")
    if not re.match(r"^https?://[^/]+", url):
        raise ConfigError("base_url must start with http:// or https://, got %r" % url)
    parts = urlsplit(url)
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ConfigError("base_url takes no query or fragment (paths and ids go after it), got %r" % url)
    if "@" in parts.netloc:  # user:password@host would show in errors and logs
        raise ConfigError("base_url takes no user or password: credentials go in app_id and app_secret")
    return url


def checked_timeout(timeout: Any) -> Timeout:
    """Seconds, or ``(connect, read)`` seconds: each a number over 0."""
    values = timeout if isinstance(timeout, tuple) else (timeout,)
    if len(values) not in (1, 2) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values):
        raise ConfigError("timeout is seconds over 0, or (connect, read) seconds over 0; got %r" % (timeout,))
    return timeout  # type: ignore[no-any-return]


def own_session(session: Optional[requests.Session], retries: Union[int, Retry, None],
                pool_maxsize: int = 10) -> Tuple[requests.Session, bool]:
    """``(session, whether this client made it and so closes it)``."""
    if session is not None:
        return session, False
    return make_session(retries, pool_maxsize=pool_maxsize), True


class ClientBase:
    """``with client:`` closes the session it made (a session passed in stays its owner's);
    ``from_env()`` reads the class's table of environment variables."""

    # keyword argument -> environment variable; the command reads the same table
    ENV: ClassVar[Dict[str, str]] = {}
    connection: Connection
    _own_session: bool

    # The connection's parts, settable on a live client as they always were.
    @property
    def session(self) -> requests.Session:
        return self.connection.session

    @session.setter
    def session(self, value: requests.Session) -> None:
        self.connection = self.connection._replace(session=value)

    @property
    def base_url(self) -> str:
        return self.connection.base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self.connection = self.connection._replace(base_url=checked_base_url(value))

    @property
    def timeout(self) -> Timeout:
        return self.connection.timeout

    @timeout.setter
    def timeout(self, value: Timeout) -> None:
        self.connection = self.connection._replace(timeout=checked_timeout(value))

    @classmethod
    def env_settings(cls, environ: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
        """The keyword arguments the environment sets (empty variables count as unset)."""
        env = os.environ if environ is None else environ
        return {kw: env[var] for kw, var in cls.ENV.items() if env.get(var)}

    @classmethod
    def from_env(cls: Type[C], environ: Optional[Mapping[str, str]] = None, **overrides: Any) -> C:
        """Configured by the environment variables of ``ENV``; keyword arguments override them."""
        kwargs = cls.env_settings(environ)
        kwargs.update(overrides)
        return cls(**kwargs)

    def __enter__(self: C) -> C:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the session (only one this client made: a session passed in stays yours)."""
        if self._own_session:
            self.session.close()
