from datetime import datetime

import pytest

from shared.platform.errors import ServiceError
from shared.platform.timezones import resolve_zone


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("Pacific Standard Time", "America/Los_Angeles"),
        ("UTC", "UTC"),
        ("Tokyo Standard Time", "Asia/Tokyo"),
    ],
)
def test_iana_and_windows_names(name, key):
    assert resolve_zone(name).key == key


def test_windows_name_keeps_daylight_saving():
    zone = resolve_zone("W. Europe Standard Time")
    assert datetime(2026, 7, 1, 12, tzinfo=zone).utcoffset().total_seconds() == 7200
    assert datetime(2026, 12, 1, 12, tzinfo=zone).utcoffset().total_seconds() == 3600


@pytest.mark.parametrize("bad", ["CET", "Mars/Olympus", "../../etc/passwd", "", "Europe/Berlin\x00"])
def test_unknown_zone_is_a_400_naming_the_field(bad):
    with pytest.raises(ServiceError) as caught:
        resolve_zone(bad, field="timeZone")
    assert (caught.value.status, caught.value.code, caught.value.errors[0].field) == (
        400,
        "invalidTimeZone",
        "timeZone",
    )
