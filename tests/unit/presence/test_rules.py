"""Graph's presence rules before any call: which pairs can be set, and what a status message may say.
A refusal is a 400 with a stable code naming the offending field."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.platform.errors import ServiceError
from shared.presence.rules import (
    ACTIVITIES,
    AVAILABILITIES,
    MESSAGE_MAX_CHARS,
    PREFERRED_PAIRS,
    SESSION_PAIRS,
    check_message,
    check_pair,
)


def refusal(call: object, *args: object) -> ServiceError:
    with pytest.raises(ServiceError) as refused:
        call(*args)  # type: ignore[operator]
    return refused.value


# --- check_pair ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "pairs"),
    [
        ("session", [("Available", "Available"), ("Busy", "InACall"), ("Busy", "InAConferenceCall")]),
        ("session", [("Away", "Away"), ("DoNotDisturb", "Presenting")]),
        ("preferred", [("Available", "Available"), ("Busy", "Busy"), ("DoNotDisturb", "DoNotDisturb")]),
        ("preferred", [("BeRightBack", "BeRightBack"), ("Away", "Away"), ("Offline", "OffWork")]),
    ],
)
def test_graphs_settable_pairs_pass(kind, pairs):
    for availability, activity in pairs:
        assert check_pair(kind, availability, activity) is None


@pytest.mark.parametrize(
    ("kind", "availability", "activity", "field"),
    [
        ("session", "Busy", "Busy", "activity"),  # a preferred pair, not a session one
        ("session", "DoNotDisturb", "DoNotDisturb", "activity"),
        ("session", "Offline", "OffWork", "availability"),  # "appear offline" is a preferred presence only
        ("session", "BeRightBack", "BeRightBack", "availability"),
        ("preferred", "Busy", "InACall", "activity"),  # a session pair, not a preferred one
        ("preferred", "DoNotDisturb", "Presenting", "activity"),
        ("preferred", "AvailableIdle", "Available", "availability"),  # Graph shows it, nobody sets it
        ("session", "busy", "InACall", "availability"),  # Graph's values are case-sensitive
        ("session", "Busy", "inacall", "activity"),
        ("session", "", "", "availability"),
    ],
)
def test_another_pair_is_a_400_naming_the_field_that_cannot_go_with_the_other(
    kind, availability, activity, field
):
    refused = refusal(check_pair, kind, availability, activity)
    assert (refused.status, refused.code) == (400, "invalidPresence")
    assert [e.field for e in refused.errors] == [field]
    assert f"{availability}/{activity} cannot be set as a {kind} presence" in refused.detail


def test_the_refusal_lists_the_allowed_pairs_of_that_kind_in_order():
    session = refusal(check_pair, "session", "Busy", "Busy")
    allowed = "Available/Available, Away/Away, Busy/InACall, Busy/InAConferenceCall, DoNotDisturb/Presenting"
    assert session.errors[0].message == f"Allowed pairs: {allowed}."
    assert session.detail.endswith(f"Allowed: {allowed}.")
    preferred = refusal(check_pair, "preferred", "Busy", "InACall")
    assert "Offline/OffWork" in preferred.errors[0].message
    assert "Busy/InACall" not in preferred.errors[0].message


@given(
    kind=st.sampled_from(["session", "preferred"]),
    availability=st.sampled_from(AVAILABILITIES),
    activity=st.sampled_from(ACTIVITIES),
)
def test_any_pair_graph_can_show_is_settable_exactly_when_graph_accepts_it(kind, availability, activity):
    pairs = SESSION_PAIRS if kind == "session" else PREFERRED_PAIRS
    if (availability, activity) in pairs:
        check_pair(kind, availability, activity)
        return
    refused = refusal(check_pair, kind, availability, activity)
    settable = availability in {a for a, _ in pairs}
    assert refused.errors[0].field == ("activity" if settable else "availability")


def test_every_settable_pair_is_one_graph_can_show():
    for availability, activity in itertools.chain(SESSION_PAIRS, PREFERRED_PAIRS):
        assert availability in AVAILABILITIES
        assert activity in ACTIVITIES


# --- check_message ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "x",  # one character is enough
        "x" * MESSAGE_MAX_CHARS,
        " In training, back at 3pm ",  # kept as written: surrounding spaces are the caller's
        "Café 中文 — “quoted” ✓",
        "😀" * MESSAGE_MAX_CHARS,  # characters (code points), not UTF-16 units or bytes
        "👩\u200d💻 coding",  # a zero-width joiner inside an emoji is not a control character
    ],
)
def test_plain_text_up_to_the_limit_is_taken_as_it_is(message):
    assert check_message(message) == message


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ("", "The message is empty; DELETE clears it."),
        ("   ", "The message is empty; DELETE clears it."),
        ("\u3000\u00a0", "The message is empty; DELETE clears it."),  # Unicode spaces are blank too
        ("x" * (MESSAGE_MAX_CHARS + 1), f"At most {MESSAGE_MAX_CHARS} characters."),
        ("😀" * (MESSAGE_MAX_CHARS + 1), f"At most {MESSAGE_MAX_CHARS} characters."),
        ("Lunch\nback at 1", "Control characters are not allowed."),  # line breaks included
        ("Lunch\r", "Control characters are not allowed."),
        ("Lunch\tbreak", "Control characters are not allowed."),
        ("nul\x00", "Control characters are not allowed."),
        ("del\x7f", "Control characters are not allowed."),
        ("next line\x85", "Control characters are not allowed."),  # C1 control
        ("\u202eevil", "Control characters are not allowed."),  # right-to-left override
        ("a\u2066b\u2069", "Control characters are not allowed."),  # bidirectional isolates
        ("lone \ud800", "Control characters are not allowed."),  # a surrogate is not a character
    ],
)
def test_an_empty_long_or_controlled_message_is_a_400_naming_message(message, why):
    refused = refusal(check_message, message)
    assert (refused.status, refused.code) == (400, "invalidMessage")
    assert [(e.field, e.message) for e in refused.errors] == [("message", why)]
