import pytest

from common.config import ConfigError, load_config
from common.config_example import example


def test_defaults_are_embedded(tmp_path):
    config = load_config("master")
    assert config.store.kind == "local"
    assert config.broker.kind == "embedded"
    assert config.database.resolved_url().startswith("sqlite:///")


def test_toml_file_and_environment_override(tmp_path, monkeypatch):
    path = tmp_path / "telescope.toml"
    path.write_text('[node]\nname = "scope2"\n[spool]\nresend_after_s = 5\n')
    monkeypatch.setenv("OBSY_SPOOL__RESEND_AFTER_S", "7.5")
    config = load_config("telescope", path)
    assert config.node.name == "scope2"
    assert config.spool.resend_after_s == 7.5


def test_wrong_value_names_key_value_and_allowed(tmp_path):
    path = tmp_path / "master.toml"
    path.write_text('[store]\nkind = "ftp"\n[web]\nport = 99999\n')
    with pytest.raises(ConfigError) as info:
        load_config("master", path)
    text = str(info.value)
    assert "store.kind = 'ftp'" in text and "'local' or 's3'" in text
    assert "web.port = 99999" in text and "65535" in text


def test_unknown_key_is_reported(tmp_path):
    path = tmp_path / "master.toml"
    path.write_text('[stroe]\nkind = "s3"\n')
    with pytest.raises(ConfigError, match="stroe: unknown key"):
        load_config("master", path)


def test_environment_error_is_reported(monkeypatch):
    monkeypatch.setenv("OBSY_BROKER__KIND", "kafka")
    with pytest.raises(ConfigError, match="broker.kind = 'kafka'"):
        load_config("master")


def test_s3_needs_endpoint(tmp_path):
    path = tmp_path / "master.toml"
    path.write_text('[store]\nkind = "s3"\n')
    with pytest.raises(ConfigError, match="endpoint is empty"):
        load_config("master", path)


def test_invalid_node_name_and_bad_toml(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text('[node]\nname = "Scope 1/../x"\n')
    with pytest.raises(ConfigError, match="node.name"):
        load_config("telescope", path)
    path.write_text('[node\nname=')
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config("telescope", path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("telescope", tmp_path / "missing.toml")


@pytest.mark.parametrize("role", ["master", "telescope"])
def test_example_is_valid_config(role, tmp_path):
    text = example(role)
    assert "# kind: one of 'local', 's3'" in text
    path = tmp_path / f"{role}.toml"
    path.write_text(text)
    assert load_config(role, path).model_dump() == load_config(role).model_dump()
