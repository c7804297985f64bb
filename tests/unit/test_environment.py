"""The environment variables of the libraries the assistant drives, and tools' secrets, as configs reads them."""

from configs.environment import HubAccess, hub_access, prometheus_multiprocess, tool_secret


def test_the_hub_variables_are_read_as_huggingface_hub_reads_them() -> None:
    assert hub_access({}) == HubAccess(offline=False, endpoint=None)
    assert hub_access({"HF_HUB_OFFLINE": "True", "HF_ENDPOINT": "http://mirror.local/"}) == HubAccess(
        offline=True, endpoint="http://mirror.local"
    )
    assert not hub_access({"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": ""}).offline


def test_metrics_aggregate_processes_only_when_prometheus_has_a_folder_for_them() -> None:
    assert prometheus_multiprocess({"PROMETHEUS_MULTIPROC_DIR": "/run/prometheus"})
    assert not prometheus_multiprocess({}) and not prometheus_multiprocess({"PROMETHEUS_MULTIPROC_DIR": ""})


def test_a_tool_secret_is_the_value_of_the_variable_it_names() -> None:
    assert tool_secret("TICKETS_TOKEN", {"TICKETS_TOKEN": "s3cret"}) == "s3cret"
    assert tool_secret("TICKETS_TOKEN", {}) is None
