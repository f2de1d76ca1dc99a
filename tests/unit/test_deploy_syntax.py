"""deploy/ansible: every playbook parses with both example inventories, ansible-lint passes with
the production profile, and no file under deploy/ holds a secret-looking value."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
ANSIBLE_DIR = DEPLOY / "ansible"
VENV_BIN = Path(sys.executable).parent
PLAYBOOKS = ("site.yml", "backup.yml", "restore.yml")
INVENTORIES = ("example-onebox", "example-multi")


def _env(tmp_path: Path) -> dict:
    # ANSIBLE_HOME/LOCAL_TEMP in tmp: nothing is written into the repository or ~/.ansible.
    return {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}", "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_HOME": str(tmp_path / "ansible-home"), "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
            "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote-tmp"),
            "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg")}


@pytest.mark.parametrize("inventory", INVENTORIES)
@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_syntax(playbook, inventory, tmp_path):
    res = subprocess.run([str(VENV_BIN / "ansible-playbook"), "--syntax-check", "-i", f"inventories/{inventory}", playbook],
                         cwd=ANSIBLE_DIR, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_inventory_groups(inventory, tmp_path):
    """Every example inventory has the four OBSY groups with at least one host each."""
    res = subprocess.run([str(VENV_BIN / "ansible-inventory"), "-i", f"inventories/{inventory}", "--list"],
                         cwd=ANSIBLE_DIR, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    import json

    data = json.loads(res.stdout)
    for group in ("obsy_master", "obsy_observatory", "obsy_telescope", "obsy_remote"):
        assert data[group]["hosts"], group
    if inventory == "example-multi":
        assert len(data["obsy_telescope"]["hosts"]) == 2


def test_ansible_lint_production_profile(tmp_path):
    lint = VENV_BIN / "ansible-lint"
    if not lint.exists():
        pytest.skip("ansible-lint is not installed (test extra)")
    # A copy, so that ansible-lint's cache (.ansible/) is not written into the repository.
    work = tmp_path / "ansible"
    shutil.copytree(ANSIBLE_DIR, work, ignore=shutil.ignore_patterns(".ansible"))
    env = _env(tmp_path)
    env.pop("VIRTUAL_ENV", None)
    res = subprocess.run([str(lint), "--offline", "--profile", "production", "--project-dir", str(work),
                          "site.yml", "backup.yml", "restore.yml", "roles", "inventories"],
                         cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-5000:] + res.stderr[-5000:]


# A value assigned to a secret-named key must be a template ({{ ... }}), empty, or a reference.
_SECRET_KEY = re.compile(r"(password|passwd|secret|token|access_key|private_key)[\w-]*\s*[:=]\s*(.+)$", re.IGNORECASE)
_ALLOWED_VALUE = re.compile(r"""^(["']?\{\{.*|""|''|>-|\||["']?\$|\S+\s*\}\}|\w+_path.*|["']?(/|%s|true|false).*)""")
_SECRET_SHAPES = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),                         # AWS access key id
    re.compile(r"\$ANSIBLE_VAULT;"),                             # vaulted data belongs outside the repo
    re.compile(r"(?<![\w/.-])[A-Za-z0-9+/]{40,}={0,2}(?![\w/.-])"),  # long base64/hex blob
]


def _deploy_files():
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file() and ".ansible" not in path.parts:
            yield path


def test_no_secret_in_deploy_files():
    offenders = []
    for path in _deploy_files():
        text = path.read_text(errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("#"):
                continue
            for shape in _SECRET_SHAPES:
                if shape.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {stripped[:80]}")
            match = _SECRET_KEY.search(stripped)
            if match and path.suffix in (".yml", ".yaml", ".j2", ".cfg", ".toml", ".env"):
                value = match.group(2).strip()
                if not _ALLOWED_VALUE.match(value) and "{{" not in value and "lookup(" not in value \
                        and "$OBSY_" not in value and "%s" not in value:
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {stripped[:80]}")
    assert not offenders, "secret-looking values under deploy/:\n" + "\n".join(offenders)


def test_secret_check_catches_examples(tmp_path, monkeypatch):
    """The check above really finds literal passwords, keys and vault blobs."""
    bad = tmp_path / "deploy"
    (bad / "x").mkdir(parents=True)
    (bad / "x" / "vars.yml").write_text("obsy_postgres_password: hunter2hunter2\n")
    (bad / "x" / "key.pem").write_text("-----BEGIN RSA PRIVATE KEY-----\nabc\n")
    (bad / "x" / "blob.yml").write_text("token_like: ZXhhbXBsZWV4YW1wbGVleGFtcGxlZXhhbXBsZWV4YW1wbGU=\n")
    monkeypatch.setattr(sys.modules[__name__], "DEPLOY", bad)
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    with pytest.raises(AssertionError) as caught:
        test_no_secret_in_deploy_files()
    message = str(caught.value)
    assert "vars.yml:1" in message and "key.pem:1" in message and "blob.yml:1" in message


def test_no_generated_files_in_deploy():
    """Secrets and builds go to the control host's home, never next to the playbooks."""
    names = {p.name for p in _deploy_files()}
    assert not {n for n in names if n.endswith((".whl", ".key", ".crt", ".dump", ".passwd"))}


@pytest.mark.parametrize("backend", ["simulator", "indi", "ekos"])
def test_telescope_config_template_renders_a_valid_config(backend, tmp_path):
    import tomllib

    import jinja2

    from common.config import TelescopeConfig

    template = (Path(__file__).resolve().parents[2] / "deploy/ansible/roles/telescope/templates/telescope.toml.j2")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["bool"] = lambda v: v in (True, "true", "yes", 1)
    text = env.from_string(template.read_text()).render(
        ansible_managed="test", obsy_telescope_backend=backend, obsy_node_name="scope1", obsy_site="home",
        obsy_store_kind="local", obsy_data_dir="/var/lib/obsy", obsy_telescope_rabbitmq_user="u",
        obsy_telescope_rabbitmq_password="p w", obsy_rabbitmq_host="master", obsy_rabbitmq_port=5672,
        obsy_rabbitmq_vhost="/obsy", obsy_indi_host="127.0.0.1", obsy_indi_port=7624, obsy_ekos_profile="Roof",
        obsy_ekos_display=":0", obsy_ekos_dbus_address="", obsy_telescope_extra_toml="")
    config = TelescopeConfig(**tomllib.loads(text))
    assert config.backend == backend
    if backend == "ekos":
        assert (config.ekos.profile, config.ekos.display, config.ekos.indi_port) == ("Roof", ":0", 7624)
