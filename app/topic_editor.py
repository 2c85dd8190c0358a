"""The manager view's "Edit topics" dialog: an admin corrects a comment's topics.

An admin's manager page builds its comments with an "Edit topics" button each
(``ScreenConfig.editable``, ``app.panels.comments.TOPICS_EDIT``); this module adds the dialog
(a multi-select of the taxonomy's topics, the comment's current ones chosen, Save and Cancel)
and its one callback. Saving calls ``Store.set_topics``, as ``PUT
/api/v1/responses/<id>/topics`` does; the comment's row is refolded by every poller within one
poll. Every step checks ``is_admin_request()`` on the server: a non-admin never gets the
dialog, and a hand-made callback request from one changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update

from app.panels import CHIP_CHARS
from app.panels.comments import TOPICS_EDIT
from app.privacy import clean_for_display
from app.scopes import is_admin_request
from app.store.corrections import CorrectionRefused

if TYPE_CHECKING:
    from app.services import Services

DIALOG, CHOICE, TARGET = "topic-dialog", "topic-dialog-choice", "topic-dialog-target"
QUOTE, SAVE, CANCEL = "topic-dialog-quote", "topic-dialog-save", "topic-dialog-cancel"
MESSAGE, TAGGER = "topic-dialog-message", "topic-dialog-tagger"
CLOSED, OPEN = "topic-dialog", "topic-dialog is-open"
QUOTE_CHARS = 300
ADMINS_ONLY = "Admins only: sign in at /admin with the admin token."
WHO = "admin (manager view)"


def build_topic_dialog(services: Services) -> html.Div | None:
    """The dialog (closed), for an admin only; None for everyone else."""
    if not is_admin_request():
        return None
    options = [{"label": name, "value": name} for name in services.store.topic_names]
    return html.Div(id=DIALOG, className=CLOSED, role="dialog",
                    **{"aria-modal": "true", "aria-labelledby": f"{DIALOG}-title"}, children=[
        html.Div(className="topic-dialog-box", children=[
            html.H2("Edit topics", id=f"{DIALOG}-title", className="topic-dialog-title"),
            html.Blockquote(id=QUOTE, className="topic-dialog-quote"),
            dcc.Dropdown(id=CHOICE, options=options, value=[], multi=True, clearable=True,
                         placeholder="No topics", className="topic-dialog-choice"),
            html.P(id=TAGGER, className="topic-dialog-hint"),
            dcc.Store(id=TARGET),
            html.Div(className="topic-dialog-actions", children=[
                html.Button("Cancel", id=CANCEL, className="adm-button"),
                html.Button("Save", id=SAVE, className="mgr-wall-link topic-dialog-save"),
            ]),
        ]),
    ])


def build_message() -> html.Span | None:
    """Where the dialog's outcome shows (beside the manager's status), admins only."""
    return html.Span(id=MESSAGE, className="adm-message") if is_admin_request() else None


def open_dialog(services: Services, response_id: Any) -> tuple:
    """(class, chosen topics, target, quote, hint) for editing ``response_id``."""
    if not isinstance(response_id, int) or isinstance(response_id, bool):
        return no_update, no_update, no_update, no_update, no_update
    try:
        state = services.store.topic_state(response_id)
    except CorrectionRefused as exc:
        return CLOSED, no_update, None, no_update, str(exc)
    tagger = ", ".join(state.tagger_topics) or "none"
    hint = f"The tagger says: {tagger}."
    if state.corrections:
        hint += " Corrected before: " + ", ".join(f"{a} {t}" for t, a in
                                                  state.corrections.items() if a != "keep")
    quote = clean_for_display(state.comment or "", QUOTE_CHARS)
    return OPEN, state.topics, response_id, quote, hint


def save_topics(services: Services, response_id: Any, chosen: Any) -> tuple[str, str]:
    """Apply the correction; (dialog class, message)."""
    if not isinstance(response_id, int) or isinstance(response_id, bool):
        return CLOSED, "Nothing to save: open a comment's Edit topics first"
    topics = chosen if isinstance(chosen, list) else []
    try:
        state = services.store.set_topics(response_id, topics, who=WHO)
    except CorrectionRefused as exc:
        return OPEN, f"Not saved: {exc}"
    shown = ", ".join(clean_for_display(t, CHIP_CHARS) for t in state.topics) or "no topics"
    return CLOSED, f"Saved: comment {response_id} now has {shown}; screens follow within a poll"


def register_callbacks(dash_app: Dash, services: Services) -> None:
    """Wire the dialog: an "Edit topics" click opens it, Save applies, Cancel closes."""

    @dash_app.callback(
        Output(DIALOG, "className"), Output(CHOICE, "value"), Output(TARGET, "data"),
        Output(QUOTE, "children"), Output(TAGGER, "children"), Output(MESSAGE, "children"),
        Input({"type": TOPICS_EDIT, "id": ALL}, "n_clicks"), Input(SAVE, "n_clicks"),
        Input(CANCEL, "n_clicks"), State(TARGET, "data"), State(CHOICE, "value"),
        prevent_initial_call=True)
    def topic_dialog(_edits: Any, _save: Any, _cancel: Any, target: Any, chosen: Any) -> tuple:
        keep = (no_update,) * 5
        if not is_admin_request():
            return (CLOSED, *keep[:4], ADMINS_ONLY)
        clicked = ctx.triggered and ctx.triggered[0].get("value")
        if not clicked:  # new comment cards arrived with a poll: nothing was pressed
            return (*keep, no_update)
        trigger = ctx.triggered_id
        if trigger == CANCEL:
            return (CLOSED, *keep[:4], "")
        if trigger == SAVE:
            css, message = save_topics(services, target, chosen)
            return (css, *keep[:4], message)
        if isinstance(trigger, dict) and trigger.get("type") == TOPICS_EDIT:
            return (*open_dialog(services, trigger.get("id")), "")
        return (*keep, no_update)
