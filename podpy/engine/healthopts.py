"""podman 5's startup healthcheck and health log flags, checked (the --health-* flags of
podman 4.3.1 are options.healthcheck()'s)."""

from __future__ import annotations

import os

from ..errors import InvalidArgument
from ..options import json_strings, parse_duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def health_extras(check: dict[str, object], startup_cmd: Optional[str], startup_interval: Optional[str],
                  startup_retries: Optional[str], startup_success: Optional[str], startup_timeout: Optional[str],
                  log_destination: Optional[str], max_log_count: Optional[str],
                  max_log_size: Optional[str]) -> dict[str, object]:
    """podman 5's --health-startup-* and --health-log-* flags added to a healthcheck (from
    healthcheck()): a startup check run until it passes `success` times before the regular
    one (failing `retries` times restarts the container; 0: never), and where the health log
    goes and how much of it is kept."""
    given = [v for v in (startup_cmd, startup_interval, startup_retries, startup_success, startup_timeout,
                         log_destination, max_log_count, max_log_size) if v is not None]
    if not check:
        if given:
            raise InvalidArgument("--health-startup-* and --health-log-* options need a healthcheck "
                                  "(--health-cmd or an image with a HEALTHCHECK)")
        return check
    check = dict(check)

    def count(value: Optional[str], flag: str, default: int) -> int:
        if value is None:
            return default
        if not value.strip().isdigit():
            raise InvalidArgument(f"invalid {flag} {value!r}: expected a number (0 or more)")
        return int(value)

    if startup_cmd is not None:
        text = startup_cmd.strip()
        if text.startswith("["):
            parsed = json_strings(text, "--health-startup-cmd")
            test = parsed if parsed and parsed[0] in ("CMD", "CMD-SHELL") else ["CMD", *parsed]
        else:
            test = ["CMD-SHELL", startup_cmd]
        if len(test) < 2 or not test[1]:
            raise InvalidArgument("invalid --health-startup-cmd: an empty command")
        startup = {"test": test,
                   "interval": parse_duration(startup_interval, "--health-startup-interval")
                   if startup_interval is not None else 30.0,
                   "timeout": parse_duration(startup_timeout, "--health-startup-timeout")
                   if startup_timeout is not None else 30.0,
                   "retries": count(startup_retries, "--health-startup-retries", 0),
                   "success": count(startup_success, "--health-startup-success", 0)}
        if startup["interval"] <= 0 or startup["timeout"] <= 0:  # type: ignore[operator]
            raise InvalidArgument("--health-startup-interval and --health-startup-timeout must be more than 0")
        check["startup"] = startup
    elif any(v is not None for v in (startup_interval, startup_retries, startup_success, startup_timeout)):
        raise InvalidArgument("--health-startup-* options need a --health-startup-cmd")
    if log_destination is not None:
        if log_destination not in ("local", "events_logger"):
            if not os.path.isabs(log_destination) or not os.path.isdir(log_destination):
                raise InvalidArgument(f"invalid --health-log-destination {log_destination!r}: local, "
                                      "events_logger or an existing directory (an absolute path)")
        check["log_destination"] = log_destination
    if max_log_count is not None:
        check["max_log_count"] = count(max_log_count, "--health-max-log-count", 5)
    if max_log_size is not None:
        check["max_log_size"] = count(max_log_size, "--health-max-log-size", 500)
    return check
