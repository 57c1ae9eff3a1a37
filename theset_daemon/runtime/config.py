"""Configuration from ``THESET_*`` environment variables, validated at start-up.

Every secret, and the Redis and PostgreSQL URLs (they carry passwords), can
also come from ``THESET_X_FILE`` (a path) or from systemd's
``$CREDENTIALS_DIRECTORY/<name>`` where ``<name>`` is the variable's name
lower-cased, with or without its ``theset_`` prefix (``LoadCredential=api_token:/etc/...``
gives ``api_token``; the unit's ``LoadCredential=theset:/etc/theset-daemon/credentials``
loads every file of that directory as ``theset_<file>``). The variable itself wins
over ``_FILE``, which wins over the credential; an empty credential file reads as unset.
A wrong value raises :class:`ConfigError` naming the variable and what it
expects; the CLI turns that into :data:`EXIT_CONFIG`.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlparse

from ..broker import connection
from ..queues import QUEUES_BY_NAME, JobDefaults
from .masking import MASK, masker

#: Exit status for a configuration error (sysexits.h EX_CONFIG).
EXIT_CONFIG = 78



class ConfigError(ValueError):
    """A configuration variable has a value the daemon cannot use."""

    def __init__(self, variable: str, expected: str, value: str | None = None) -> None:
        self.variable = variable
        self.expected = expected
        shown = "" if value is None else f" (got {masker().text(value)!r})"
        super().__init__(f"{variable}: expected {expected}{shown}")


def _url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in schemes or not parsed.netloc:
            raise ValueError(f"a URL with scheme {' or '.join(schemes)}")
        return value.rstrip("/")

    return parse


def _port(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise ValueError("a TCP port number 0-65535")
    return int(value)


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number <= 0:
        raise ValueError("a positive number")
    return number


def _positive_int(value: str) -> int:
    if not value.isdigit() or int(value) <= 0:
        raise ValueError("a positive integer")
    return int(value)


def _count(value: str) -> int:
    if not value.strip().isdigit():
        raise ValueError("a whole number, 0 or more")
    return int(value)


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number <= 1:
        raise ValueError("a number between 0 and 1")
    return number


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("a boolean (true/false, 1/0, yes/no)")


def _level(value: str) -> str:
    upper = value.upper()
    if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("one of DEBUG, INFO, WARNING, ERROR")
    return upper


def _text(value: str) -> str:
    return value


def _redis_url(value: str) -> str:
    connection.parse(value)  # raises ValueError saying what is wrong
    return value


def _url_list(value: str) -> tuple[str, ...]:
    check = _url(("http", "https"))
    return tuple(check(item.strip()) for item in value.split(",") if item.strip())


#: Fewest characters a token or secret of our own may have (guessing one online is hopeless).
MIN_SECRET_CHARS = 32


def _own_secret(value: str) -> str:
    """A token or secret the daemon checks or signs with: empty (the feature is off) or 32+ characters."""
    if value and len(value) < MIN_SECRET_CHARS:
        raise ValueError(
            f"at least {MIN_SECRET_CHARS} characters (this one has {len(value)}); "
            "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return value


def _networks(value: str) -> tuple[str, ...]:
    """Comma-separated IP networks (``10.0.0.0/8``, ``::1``), normalised."""
    try:
        return tuple(str(ipaddress.ip_network(item.strip(), strict=False)) for item in value.split(",") if item.strip())
    except ValueError:
        raise ValueError("comma-separated IP addresses or networks (10.0.0.5, 10.0.0.0/8, ::1)") from None


def _module_list(value: str) -> tuple[str, ...]:
    modules = tuple(item.strip() for item in value.split(",") if item.strip())
    if not modules or not all(m.replace(".", "").replace("_", "").isalnum() for m in modules):
        raise ValueError("a comma-separated list of Python module names")
    return modules


def _queue_names(value: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(item.strip() for item in value.split(",") if item.strip()))
    unknown = [name for name in names if name not in QUEUES_BY_NAME]
    if unknown:
        raise ValueError(f"comma-separated queue names from {', '.join(QUEUES_BY_NAME)}; unknown: {', '.join(unknown)}")
    return names


def _concurrency(value: str) -> tuple[tuple[str, int], ...]:
    pairs: dict[str, int] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        name, _, size = item.partition("=")
        name = name.strip()
        if name not in QUEUES_BY_NAME or not size.strip().isdigit() or int(size) < 1:
            raise ValueError(f"queue=N pairs (N >= 1) for queues from {', '.join(QUEUES_BY_NAME)}; bad: {item!r}")
        pairs[name] = int(size)
    return tuple(pairs.items())


@dataclass(frozen=True)
class Var:
    """How one setting is read: its variable, parser, default and secrecy."""

    env: str
    parse: Callable[[str], Any]
    default: str
    secret: bool = False
    #: May come from ``THESET_X_FILE`` or a systemd credential (every secret may).
    credential: bool = False


#: Every setting, by attribute name. Defaults suit the local sandbox.
VARIABLES: dict[str, Var] = {
    "redis_url": Var("THESET_REDIS_URL", _redis_url, "redis://127.0.0.1:6379/0", credential=True),
    "redis_password": Var("THESET_REDIS_PASSWORD", _text, "", secret=True),
    "redis_tls_ca_cert": Var("THESET_REDIS_TLS_CA_CERT", _text, ""),
    "redis_tls_cert": Var("THESET_REDIS_TLS_CERT", _text, ""),
    "redis_tls_key": Var("THESET_REDIS_TLS_KEY", _text, ""),
    "redis_connect_timeout": Var("THESET_REDIS_CONNECT_TIMEOUT", _positive_float, "2"),
    "redis_timeout": Var("THESET_REDIS_TIMEOUT", _positive_float, "2"),
    "redis_allow_eviction": Var("THESET_REDIS_ALLOW_EVICTION", _bool, "false"),
    "redis_namespace": Var("THESET_REDIS_NAMESPACE", _text, "theset"),
    "database_url": Var("THESET_DATABASE_URL", _url(("postgresql", "postgres")), "postgresql://root@127.0.0.1:5432/theset",
                        credential=True),
    "http_host": Var("THESET_HTTP_HOST", _text, "127.0.0.1"),
    "http_port": Var("THESET_HTTP_PORT", _port, "8080"),
    "public_url": Var("THESET_PUBLIC_URL", _text, ""),
    "max_body_bytes": Var("THESET_MAX_BODY_BYTES", _positive_int, "65536"),
    "drain_timeout": Var("THESET_DRAIN_TIMEOUT", _positive_float, "25"),
    "lease_timeout": Var("THESET_LEASE_TIMEOUT", _positive_float, "30"),
    "log_level": Var("THESET_LOG_LEVEL", _level, "INFO"),
    "host_id": Var("THESET_HOST_ID", _text, ""),
    "actor_modules": Var("THESET_ACTOR_MODULES", _module_list, "theset_daemon.actors"),
    "api_token": Var("THESET_API_TOKEN", _own_secret, "", secret=True),
    "admin_token": Var("THESET_ADMIN_TOKEN", _own_secret, "", secret=True),
    "sse_secret": Var("THESET_SSE_SECRET", _own_secret, "", secret=True),
    "sse_token_ttl": Var("THESET_SSE_TOKEN_TTL", _positive_int, "3600"),
    "sse_max_streams": Var("THESET_SSE_MAX_STREAMS", _positive_int, "10000"),
    "sse_readers": Var("THESET_SSE_READERS", _positive_int, "2"),
    "http_idle_timeout": Var("THESET_HTTP_IDLE_TIMEOUT", _positive_float, "15"),
    "http_max_idle_connections": Var("THESET_HTTP_MAX_IDLE_CONNECTIONS", _positive_int, "1024"),
    "http_max_connections_per_peer": Var("THESET_HTTP_MAX_CONNECTIONS_PER_PEER", _count, "0"),
    "spotify_api_url": Var("THESET_SPOTIFY_API_URL", _url(("http", "https")), "https://api.spotify.com/v1"),
    "spotify_accounts_url": Var("THESET_SPOTIFY_ACCOUNTS_URL", _url(("http", "https")), "https://accounts.spotify.com"),
    "spotify_client_id": Var("THESET_SPOTIFY_CLIENT_ID", _text, "", secret=True),
    "spotify_client_secret": Var("THESET_SPOTIFY_CLIENT_SECRET", _text, "", secret=True),
    "spotify_rate": Var("THESET_SPOTIFY_RATE", _positive_float, "10"),
    "spotify_market": Var("THESET_SPOTIFY_MARKET", _text, "US"),
    "ticketmaster_api_url": Var("THESET_TICKETMASTER_API_URL", _url(("http", "https")), "https://app.ticketmaster.com/discovery/v2"),
    "ticketmaster_api_key": Var("THESET_TICKETMASTER_API_KEY", _text, "", secret=True),
    "ticketmaster_rate": Var("THESET_TICKETMASTER_RATE", _positive_float, "5"),
    "setlistfm_api_url": Var("THESET_SETLISTFM_API_URL", _url(("http", "https")), "https://api.setlist.fm/rest/1.0"),
    "setlistfm_api_key": Var("THESET_SETLISTFM_API_KEY", _text, "", secret=True),
    "setlistfm_rate": Var("THESET_SETLISTFM_RATE", _positive_float, "2"),
    # daily quotas (README "Daily provider quotas"): 0 = no published quota, counted only
    "ticketmaster_daily_quota": Var("THESET_TICKETMASTER_DAILY_QUOTA", _count, "5000"),
    "setlistfm_daily_quota": Var("THESET_SETLISTFM_DAILY_QUOTA", _count, "1440"),
    "spotify_daily_quota": Var("THESET_SPOTIFY_DAILY_QUOTA", _count, "0"),
    "quota_window_s": Var("THESET_QUOTA_WINDOW", _positive_float, "86400"),
    "quota_reserve": Var("THESET_QUOTA_RESERVE", _fraction, "0.3"),
    "allow_private_fetch": Var("THESET_ALLOW_PRIVATE_FETCH", _bool, "false"),
    "dashboard_readonly": Var("THESET_DASHBOARD_READONLY", _bool, "false"),
    "webhook_urls": Var("THESET_WEBHOOK_URLS", _url_list, ""),
    "webhook_secret": Var("THESET_WEBHOOK_SECRET", _own_secret, "", secret=True),
    "schedules_file": Var("THESET_SCHEDULES_FILE", _text, ""),
    "job_max_attempts": Var("THESET_JOB_MAX_ATTEMPTS", _positive_int, str(JobDefaults.max_attempts)),
    "job_min_backoff_ms": Var("THESET_JOB_MIN_BACKOFF_MS", _positive_int, str(JobDefaults.min_backoff_ms)),
    "job_max_backoff_ms": Var("THESET_JOB_MAX_BACKOFF_MS", _positive_int, str(JobDefaults.max_backoff_ms)),
    "job_jitter": Var("THESET_JOB_JITTER", _fraction, str(JobDefaults.jitter)),
    "completed_ttl_s": Var("THESET_COMPLETED_TTL", _positive_int, str(JobDefaults.completed_ttl_s)),
    "completed_max_per_queue": Var("THESET_COMPLETED_MAX", _positive_int, str(JobDefaults.completed_max_per_queue)),
    "failed_ttl_s": Var("THESET_FAILED_TTL", _positive_int, str(JobDefaults.failed_ttl_s)),
    "dead_ttl_s": Var("THESET_DEAD_TTL", _positive_int, str(JobDefaults.dead_ttl_s)),
    # Rotation without downtime (SECURITY.md): the old key keeps working until it is removed.
    "admin_token_previous": Var("THESET_ADMIN_TOKEN_PREVIOUS", _own_secret, "", secret=True),
    "sse_secret_previous": Var("THESET_SSE_SECRET_PREVIOUS", _own_secret, "", secret=True),
    "metrics_token": Var("THESET_METRICS_TOKEN", _own_secret, "", secret=True),
    "auth_max_failures": Var("THESET_AUTH_MAX_FAILURES", _positive_int, "10"),
    "trusted_proxies": Var("THESET_TRUSTED_PROXIES", _networks, ""),
    "queues": Var("THESET_QUEUES", _queue_names, ""),
    "concurrency": Var("THESET_CONCURRENCY", _concurrency, ""),
}


@dataclass(frozen=True)
class Settings:
    """The daemon's effective configuration; build it with :func:`load`."""

    redis_url: str
    redis_password: str
    redis_tls_ca_cert: str
    redis_tls_cert: str
    redis_tls_key: str
    redis_connect_timeout: float
    redis_timeout: float
    redis_allow_eviction: bool
    redis_namespace: str
    database_url: str
    http_host: str
    http_port: int
    public_url: str
    max_body_bytes: int
    drain_timeout: float
    lease_timeout: float
    log_level: str
    host_id: str
    actor_modules: tuple[str, ...]
    api_token: str
    admin_token: str
    sse_secret: str
    sse_token_ttl: int
    sse_max_streams: int
    sse_readers: int
    http_idle_timeout: float
    http_max_idle_connections: int
    http_max_connections_per_peer: int
    spotify_api_url: str
    spotify_accounts_url: str
    spotify_client_id: str
    spotify_client_secret: str
    spotify_rate: float
    spotify_market: str
    ticketmaster_api_url: str
    ticketmaster_api_key: str
    ticketmaster_rate: float
    setlistfm_api_url: str
    setlistfm_api_key: str
    setlistfm_rate: float
    ticketmaster_daily_quota: int
    setlistfm_daily_quota: int
    spotify_daily_quota: int
    quota_window_s: float
    quota_reserve: float
    allow_private_fetch: bool
    dashboard_readonly: bool
    webhook_urls: tuple[str, ...]
    webhook_secret: str
    schedules_file: str
    job_max_attempts: int
    job_min_backoff_ms: int
    job_max_backoff_ms: int
    job_jitter: float
    completed_ttl_s: int
    completed_max_per_queue: int
    failed_ttl_s: int
    dead_ttl_s: int
    admin_token_previous: str
    sse_secret_previous: str
    metrics_token: str
    auth_max_failures: int
    trusted_proxies: tuple[str, ...]

    @property
    def admin_tokens(self) -> tuple[str, ...]:
        """The admin tokens accepted now: the current one, then the previous one during a rotation."""
        return tuple(t for t in (self.admin_token, self.admin_token_previous) if t)

    @property
    def sse_secrets(self) -> tuple[str, ...]:
        """The SSE secrets whose tokens are accepted: the current one (which signs), then the previous one."""
        return tuple(s for s in (self.sse_secret, self.sse_secret_previous) if s)
    #: The queues this daemon consumes (empty: every queue of the table).
    queues: tuple[str, ...]
    #: Per-queue concurrency overrides on this host: (queue, jobs at once) pairs.
    concurrency: tuple[tuple[str, int], ...]

    @property
    def jobs(self) -> JobDefaults:
        """The job defaults (attempts, backoff, retention) as one value."""
        return JobDefaults(
            max_attempts=self.job_max_attempts,
            min_backoff_ms=self.job_min_backoff_ms,
            max_backoff_ms=self.job_max_backoff_ms,
            jitter=self.job_jitter,
            completed_ttl_s=self.completed_ttl_s,
            completed_max_per_queue=self.completed_max_per_queue,
            failed_ttl_s=self.failed_ttl_s,
            dead_ttl_s=self.dead_ttl_s,
        )

    @property
    def redis_target(self) -> connection.RedisTarget:
        """The Redis every client connects to: the URL plus password, TLS files and timeouts."""
        files = (self.redis_tls_ca_cert, self.redis_tls_cert, self.redis_tls_key)
        return connection.parse(
            self.redis_url,
            password=self.redis_password or None,
            tls=connection.Tls(*(f or None for f in files)) if any(files) else None,
            connect_timeout_s=self.redis_connect_timeout,
            timeout_s=self.redis_timeout,
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        """The configured secret values (non-empty), for log scrubbing and tests."""
        return tuple(
            value for name, var in VARIABLES.items() if var.secret and (value := getattr(self, name))
        )

    def check_serving(self) -> None:
        """Settings ``run`` needs beyond valid values.

        Raises:
          ConfigError: the import API is open (THESET_API_TOKEN set) but SSE URLs
            could not be signed (no THESET_SSE_SECRET).
        """
        if self.api_token and not self.sse_secret:
            raise ConfigError("THESET_SSE_SECRET", "a secret to sign SSE URLs with when THESET_API_TOKEN is set")

    def masked(self) -> dict[str, Any]:
        """Every setting by variable name, secrets replaced by a mask."""
        shown: dict[str, Any] = {}
        mask = masker(self.secrets)
        for name, var in VARIABLES.items():
            value = getattr(self, name)
            if var.secret:
                value = MASK if value else ""
            elif name == "concurrency":
                value = ",".join(f"{queue}={size}" for queue, size in value)
            shown[var.env] = mask.value(value)
        return shown


def _raw_value(var: Var, environ: Mapping[str, str]) -> str:
    """The raw text of a variable: direct, ``_FILE``, or a systemd credential."""
    if var.env in environ:
        return environ[var.env]
    if not (var.secret or var.credential):
        return var.default
    file_var = f"{var.env}_FILE"
    if file_var in environ:
        try:
            return Path(environ[file_var]).read_text().strip()
        except OSError as exc:
            raise ConfigError(file_var, "a readable file", environ[file_var]) from exc
    credentials = environ.get("CREDENTIALS_DIRECTORY")
    if credentials:
        for name in (var.env.removeprefix("THESET_").lower(), var.env.lower()):
            path = Path(credentials) / name
            if path.is_file():
                try:
                    return path.read_text().strip() or var.default
                except OSError as exc:
                    raise ConfigError(var.env, f"a readable credential file ({exc.strerror})", str(path)) from exc
    return var.default


#: TLS file settings, each also found as ``$CREDENTIALS_DIRECTORY/[theset_]<name>`` (its path, not its text).
_REDIS_TLS_FILES = ("redis_tls_ca_cert", "redis_tls_cert", "redis_tls_key")


def _redis_files(values: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Fill the TLS file settings from systemd credentials and check every TLS file is readable."""
    credentials = environ.get("CREDENTIALS_DIRECTORY")
    for name in _REDIS_TLS_FILES:
        for file in (name, f"theset_{name}"):
            if not values[name] and credentials and (Path(credentials) / file).is_file():
                values[name] = str(Path(credentials) / file)
        if values[name] and not os.access(values[name], os.R_OK):
            raise ConfigError(VARIABLES[name].env, "a readable file", values[name])
    tls = connection.parse(values["redis_url"]).tls
    for option in ("ca_certs", "certfile", "keyfile"):
        path = getattr(tls, option, None)
        if path and not os.access(path, os.R_OK):
            raise ConfigError("THESET_REDIS_URL", f"a readable file in ssl_{option}", path)


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting.

    Raises:
      ConfigError: naming the first variable with an unusable value.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, var in VARIABLES.items():
        raw = _raw_value(var, environ)
        try:
            values[name] = var.parse(raw)
        except ValueError as exc:
            shown = None if var.secret else raw
            raise ConfigError(var.env, str(exc), shown) from None
    _redis_files(values, environ)
    if not values["host_id"]:
        values["host_id"] = f"{socket.gethostname()}-{os.getpid()}"
    if not values["public_url"]:
        values["public_url"] = f"http://{values['http_host']}:{values['http_port']}"
    assert {f.name for f in fields(Settings)} == set(values)
    return Settings(**values)
