"""The events editor in the manager (``view=events``, admins only): add, edit and remove
the events drawn on the trend (label, kind, time, note). Every change is checked with the
API's own rules (``ingest.rest.validate_event``) and written through the store; every
poller re-reads events each poll, so the wall's trend shows the change within one poll.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dash import dcc, html
from pydantic import ValidationError

from app.ingest.rest import validate_event
from app.ingest.rules import TimeRange
from app.ingest.schema import problems_from
from app.privacy import clean_for_display
from app.store.records import EventRow
from app.workspace.comment_list import step_button

FORM, ACT = "ev-form", "ev-act"  # pattern id types: the form's inputs, the buttons
FORM_FIELDS = ("label", "kind", "when", "note")
KINDS = ("release", "pricing", "outage", "campaign", "note")
LOCAL_MINUTES = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> shows and sends
LIST_LIMIT = 200


def local_input(moment: datetime, tz: str) -> str:
    """A stored (UTC) time as the time field shows it, in the display zone."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(tz)).strftime(LOCAL_MINUTES)


def event_fields(values: dict, tz: str) -> dict:
    """The form's values as ``validate_event`` takes them: the local time given its zone
    (the API wants a zone; the form's time is the display's), blanks left out."""
    fields: dict = {"label": values.get("label") if values.get("label") is not None else ""}
    if values.get("kind"):
        fields["kind"] = values["kind"]
    if values.get("note"):
        fields["note"] = values["note"]
    raw = values.get("when")
    if isinstance(raw, str) and raw.strip():
        try:
            local = datetime.strptime(raw.strip()[:16], LOCAL_MINUTES)
            fields["occurred_at"] = local.replace(tzinfo=ZoneInfo(tz)).isoformat()
        except ValueError:
            fields["occurred_at"] = raw  # refused by the rules with their own message
    return fields


def save_event(store, settings, values: dict, event_id: int | None) -> tuple[bool, str]:
    """Validate and write the form (a new event, or ``event_id``'s); (saved, message)."""
    try:
        event = validate_event(event_fields(values, settings.timezone),
                               TimeRange.from_settings(settings))
    except ValidationError as exc:
        problems = problems_from(exc)
        return False, "Not saved: " + "; ".join(f"{p['path']} {p['message']}" for p in problems)
    when = event.occurred_at or datetime.now(UTC)
    if event_id is None:
        new_id = store.add_event(when, event.label, event.kind, event.note)
        return True, f"Added event {new_id}; the trend shows it within a poll"
    if not store.update_event(event_id, when, event.label, event.kind, event.note):
        return False, f"Not saved: there is no event {event_id}"
    return True, f"Saved event {event_id}; the trend shows it within a poll"


def remove_event(store, event_id: object) -> str:
    """Remove an event; the message to show."""
    if not isinstance(event_id, int) or isinstance(event_id, bool) \
            or not 1 <= event_id < 2**62:  # a forged id past BIGINT would reach the driver
        return "Not removed: no such event"
    if not store.remove_event(event_id):
        return f"Not removed: there is no event {event_id}"
    return f"Removed event {event_id}"


def _input(name: str, value: str, label: str, **kwargs) -> html.Label:
    return html.Label([html.Span(label, className="ev-label"),
                       dcc.Input(id={"type": FORM, "name": name}, value=value,
                                 className=f"ev-input ev-input--{name}", **kwargs)],
                      className="ev-field")


def build_form(editing: EventRow | None, tz: str) -> html.Div:
    """The add/edit form (filled with ``editing``'s values when one is being edited)."""
    when = local_input(editing.occurred_at if editing else datetime.now(UTC), tz)
    kinds = sorted({*KINDS, editing.kind}) if editing else KINDS
    save = "Save changes" if editing else "Add event"
    return html.Div(className="ev-form", children=[
        _input("label", editing.label if editing else "", "Label", maxLength=200,
               placeholder="Price change", required=True),
        html.Label([html.Span("Kind", className="ev-label"),
                    dcc.Dropdown(id={"type": FORM, "name": "kind"},
                                 value=editing.kind if editing else "note", clearable=False,
                                 options=[{"label": k, "value": k} for k in kinds],
                                 searchable=False, className="ev-kind")],
                   className="ev-field"),
        _input("when", when, f"Time ({tz})", type="datetime-local"),
        _input("note", (editing.note or "") if editing else "", "Note", maxLength=1000,
               placeholder="Optional"),
        html.Div(className="ev-actions", children=[
            html.Button(save, id={"type": ACT, "act": "save", "id": editing.id if editing
                                  else 0}, className="ws-button ws-primary", n_clicks=0,
                        type="button"),
            step_button("Cancel", "edit=") if editing else None,
        ]),
    ])


def build_event_row(event: EventRow, tz: str) -> html.Tr:
    """One stored event, with Edit and Remove."""
    return html.Tr(className="ev-row", **{"data-id": str(event.id)}, children=[
        html.Td(local_input(event.occurred_at, tz).replace("T", " ")),
        html.Th(clean_for_display(event.label, 80), scope="row"),
        html.Td(clean_for_display(event.kind, 40)),
        html.Td(clean_for_display(event.note or "", 120), className="ev-note"),
        html.Td([step_button("Edit", f"edit={event.id}", css="ws-button ws-small"),
                 html.Button("Remove", id={"type": ACT, "act": "remove", "id": event.id},
                             className="ws-button ws-small ws-danger", n_clicks=0,
                             title=f"Remove this event ({event.id})")]),
    ])


def build_events_editor(events: list[EventRow], edit: int | None, tz: str,
                        message: str | None) -> html.Section:
    """The section: the form, the outcome of the last action, the events newest first."""
    editing = next((e for e in events if e.id == edit), None)
    newest = sorted(events, key=lambda e: e.occurred_at, reverse=True)[:LIST_LIMIT]
    table = html.Table(className="ws-table ev-table", children=[
        html.Thead(html.Tr([html.Th(h, scope="col")
                            for h in ("Time", "Label", "Kind", "Note", "")])),
        html.Tbody([build_event_row(e, tz) for e in newest]),
    ]) if newest else html.P("No events yet", className="ws-empty")
    title = f"Edit event {editing.id}" if editing else "Events on the trend"
    return html.Section(className="ws-section ws-events", children=[
        html.Div(html.H3(title, className="ws-title"), className="ws-section-head"),
        build_form(editing, tz),
        html.P(message or "", className="ws-note ev-message", role="status"),
        table,
    ])
