import pytest

from shared.platform.config import Settings, SettingsError

AZURITE = "UseDevelopmentStorage=true"


def test_defaults_with_only_storage():
    s = Settings.from_env({"TABLES_CONNECTION_STRING": AZURITE})
    assert s.graph_base_url == "https://graph.microsoft.com/v1.0"
    assert (s.table_prefix, s.caller_auth, s.graph_concurrency, s.max_hold_days) == (
        "presence",
        "function-key",
        8,
        7,
    )
    assert not s.graph_is_loopback


@pytest.mark.parametrize(
    ("env", "storage"),
    [
        ({"AzureWebJobsStorage": "conn"}, ("conn", None)),
        (
            {"AzureWebJobsStorage__tableServiceUri": "https://acct.table.core.windows.net"},
            (None, "https://acct.table.core.windows.net"),
        ),
        ({"AzureWebJobsStorage__accountName": "acct"}, (None, "https://acct.table.core.windows.net")),
        (
            {"TABLES_ENDPOINT": "https://x.table.core.windows.net", "AzureWebJobsStorage": "conn"},
            (None, "https://x.table.core.windows.net"),
        ),
    ],
)
def test_storage_falls_back_to_the_functions_host_setting(env, storage):
    s = Settings.from_env(env)
    assert (s.tables_connection_string, s.tables_endpoint) == storage


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GRAPH_BASE_URL", "http://graph.example.com/v1.0"),
        ("GRAPH_BASE_URL", "graph.example.org"),
        ("AZURE_CLIENT_ID", "not-a-guid"),
        ("PRESENCE_SESSION_ID", "123"),
        ("TABLE_PREFIX", "bad-prefix"),
        ("CALLER_AUTH", "none"),
        ("RENEW_TICK", "*/5 * * * *"),
        ("GRAPH_CONCURRENCY", "0"),
        ("GRAPH_CONCURRENCY", "many"),
        ("MAX_HOLD_DAYS", "31"),
        ("TABLES_ENDPOINT", "http://acct.table.core.windows.net"),
    ],
)
def test_a_wrong_setting_fails_naming_it_without_echoing_its_value(name, value):
    env = {"TABLES_CONNECTION_STRING": AZURITE, name: value}
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert str(caught.value).startswith(f"setting {name}:")
    assert value not in str(caught.value)


def test_missing_storage_is_named():
    with pytest.raises(
        SettingsError, match="TABLES_CONNECTION_STRING, TABLES_ENDPOINT or AzureWebJobsStorage"
    ):
        Settings.from_env({})


def test_loopback_graph_is_allowed_over_http():
    s = Settings.from_env({"TABLES_CONNECTION_STRING": AZURITE, "GRAPH_BASE_URL": "http://127.0.0.1:9/v1.0/"})
    assert s.graph_is_loopback
    assert s.graph_base_url == "http://127.0.0.1:9/v1.0"


@pytest.mark.parametrize(
    ("hostname", "origin"),
    [
        (None, None),
        ("presence-app.azurewebsites.net", "https://presence-app.azurewebsites.net"),
        ("127.0.0.1:7071", "http://127.0.0.1:7071"),
        ("localhost:7071", "http://localhost:7071"),
        ("[::1]:7071", "http://[::1]:7071"),
    ],
)
def test_the_public_origin_is_website_hostname(hostname, origin):
    env = {"TABLES_CONNECTION_STRING": AZURITE} | ({"WEBSITE_HOSTNAME": hostname} if hostname else {})
    assert Settings.from_env(env).public_origin == origin


@pytest.mark.parametrize("hostname", ["https://app.example", "app.example/path", "app.example@evil", "a b"])
def test_website_hostname_is_a_host_and_port_only(hostname):
    with pytest.raises(SettingsError, match="WEBSITE_HOSTNAME"):
        Settings.from_env({"TABLES_CONNECTION_STRING": AZURITE, "WEBSITE_HOSTNAME": hostname})
