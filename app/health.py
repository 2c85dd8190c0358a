"""Whether the wall may be frozen: what /health and the wall's status both report."""

from __future__ import annotations


def health_problems(services, database_ok: bool = True) -> tuple[list[str], str | None]:
    """Why the wall may be frozen (empty when healthy), and the error class to show.

    ``database_ok`` is /health's ping; screens never ping (one query per screen per second).
    """
    settings, poller, writes = services.settings, services.poller, services.store.writes
    problems: list[str] = []
    errors: list[str | None] = []
    if not database_ok:
        problems.append("the database does not answer")
        errors.append(poller.last_error or writes.last_error or "unreachable")
    if poller.consecutive_failures >= settings.health_failures:
        problems.append(f"the last {poller.consecutive_failures} polls failed")
        errors.append(poller.last_error)
    if writes.failing(settings.health_failures, settings.health_max_age_seconds):
        problems.append(f"the last {writes.failures} writes failed")
        errors.append(writes.last_error)
    age = poller.age_seconds()
    if age > settings.health_max_age_seconds:
        problems.append(f"no good poll for {age:.0f} s "
                        f"(limit {settings.health_max_age_seconds:g} s)")
        errors.append(poller.last_error or "Stale")
    return problems, next((e for e in errors if e), None)
