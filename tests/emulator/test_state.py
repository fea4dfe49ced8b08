"""The tenant model on its own: aggregation, fade, expiry and sequence numbers against an explicit `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from localdev.graph.rules import PRECEDENCE
from localdev.graph.state import (
    PreferredPresence,
    PresenceRecord,
    Session,
    SessionKind,
    Tenant,
    User,
    sequence_number,
    shown_presence,
)

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
USER = "a11ce000-0000-4000-8000-000000000001"
MIN = timedelta(minutes=1)


def app_session(availability: str, activity: str, at: datetime = T0, lasts: timedelta = 60 * MIN) -> Session:
    return Session("app", SessionKind.APPLICATION, availability, activity, at, at + lasts)


def teams_session(session_id: str, availability: str, activity: str, at: datetime = T0) -> Session:
    return Session(session_id, SessionKind.TEAMS, availability, activity, at, None)


def record_with(*sessions: Session, preferred: PreferredPresence | None = None) -> PresenceRecord:
    return PresenceRecord(sessions={s.session_id: s for s in sessions}, preferred=preferred)


def test_an_available_application_session_fades_on_schedule():
    record = record_with(app_session("Available", "Available"))
    shown = [shown_presence(record, T0 + m * MIN) for m in (0, 4, 5, 9, 10, 59)]
    assert [(s.availability, s.activity) for s in shown] == [
        ("Available", "Available"),
        ("Available", "Available"),
        ("Available", "AvailableInactive"),
        ("Available", "AvailableInactive"),
        ("Away", "Away"),
        ("Away", "Away"),
    ]
    assert shown_presence(record, T0 + 60 * MIN).availability == "Offline"


def test_a_simulated_teams_client_does_not_fade():
    record = record_with(teams_session("desktop", "Available", "Available"))
    assert shown_presence(record, T0 + 600 * MIN).activity == "Available"


def test_no_live_session_shows_offline_even_with_a_preferred_presence():
    preferred = PreferredPresence("Busy", "Busy", T0, T0 + timedelta(days=1))
    assert shown_presence(record_with(preferred=preferred), T0).availability == "Offline"


@given(
    st.lists(
        st.sampled_from(
            ["DoNotDisturb", "Busy", "Available", "Away", "BeRightBack", "AvailableIdle", "BusyIdle"]
        ),
        min_size=1,
        max_size=6,
    )
)
def test_the_highest_precedence_session_is_shown(availabilities):
    sessions = [teams_session(f"s{i}", a, a) for i, a in enumerate(availabilities)]
    shown = shown_presence(record_with(*sessions), T0)
    assert PRECEDENCE[shown.availability] == max(PRECEDENCE[a] for a in availabilities)


def test_sequence_number_counts_computed_transitions_and_sorts():
    tenant = Tenant()
    tenant.add_user(User(USER, "alice@contoso.test", "Alice", None))
    tenant.set_session(USER, app_session("Available", "Available", lasts=30 * MIN), T0)
    record = tenant.presence(USER)
    numbers = [sequence_number(record, T0 + m * MIN) for m in (0, 5, 10, 30)]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 4
    tenant.set_session(USER, app_session("Busy", "InACall", at=T0 + 31 * MIN), T0 + 31 * MIN)
    assert sequence_number(record, T0 + 31 * MIN) > numbers[-1]
