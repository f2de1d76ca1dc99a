"""``obsy master credentials create``: the same scoped RabbitMQ account the playbook makes."""
import ast
import re
import shlex
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jinja2
import pytest
import yaml
from click.testing import CliRunner

from master.cli import master_group
from master.credentials import new_account, permissions

VARS = Path(__file__).resolve().parents[2] / "deploy/ansible/roles/master/vars/main.yml"


def playbook_accounts(group: str, node: str) -> list[dict]:
    """Render the role's account list for one host the way Ansible would (lookup stubbed)."""
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    source = yaml.safe_load(VARS.read_text())[f"obsy_rabbitmq_{group}_accounts"]
    text = env.from_string(source).render(groups={f"obsy_{group}": ["host1"]},
                                          hostvars={"host1": {"obsy_node_name": node}},
                                          lookup=lambda *args, **kw: "pw", obsy_secrets_dir="/s")
    return ast.literal_eval(text.strip())


@pytest.mark.parametrize("role", ["telescope", "observatory"])
def test_permissions_are_the_playbooks(role):
    [expected] = playbook_accounts(role, "scope-1")
    account = new_account("scope-1", role)
    assert account.name == expected["name"] == f"obsy-{role}-scope-1"
    assert (account.configure, account.write, account.read) == (expected["configure"], expected["write"],
                                                                expected["read"])
    assert len(account.password) == 32 and account.password.isalnum()
    assert new_account("scope-1", role).password != account.password


def test_a_telescope_may_use_its_own_queues_only():
    configure, write, read = permissions("scope1", "telescope")
    for queue in ("obsy.telescope.scope1", "obsy.telescope.scope1.XQ", "obsy.node.scope1", "amq.gen-abc"):
        assert re.match(read, queue), queue
    for queue in ("obsy.telescope.scope2", "obsy.node.scope10", "obsy.ingest"):
        assert not re.match(read, queue), queue
    assert re.match(write, "obsy.ingest") and not re.match(write, "obsy.telescope.scope2")
    with pytest.raises(ValueError, match="role must be"):
        permissions("scope1", "remote")
    with pytest.raises(ValueError, match="node name"):
        new_account("Scope 1; rm -rf", "telescope")


def test_command_prints_user_password_commands_and_url():
    result = CliRunner().invoke(master_group, ["credentials", "create", "roof1", "--role", "observatory",
                                               "--host", "broker.lan"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    user, password = re.fullmatch(r"user=(\S+) password=([A-Za-z0-9]{32})", lines[0]).groups()
    assert user == "obsy-observatory-roof1"
    add = shlex.split(lines[1])
    assert add == ["rabbitmqctl", "add_user", user, password]
    perms = shlex.split(lines[2])
    assert perms[:5] == ["rabbitmqctl", "set_permissions", "-p", "obsy", user]
    assert tuple(perms[5:]) == permissions("roof1", "observatory")
    url = urlsplit(lines[-1])
    assert (url.scheme, url.hostname, url.port, url.path) == ("amqp", "broker.lan", 5672, "/obsy")
    assert (unquote(url.username), unquote(url.password)) == (user, password)
    bad = CliRunner().invoke(master_group, ["credentials", "create", "Bad Name", "--role", "telescope"])
    assert bad.exit_code != 0 and "node name" in bad.output


def test_secrets_dir_stores_the_password_for_the_playbook_once(tmp_path):
    args = ["credentials", "create", "scope1", "--role", "telescope", "--secrets-dir", str(tmp_path)]
    result = CliRunner().invoke(master_group, args)
    assert result.exit_code == 0, result.output
    password = re.search(r"password=(\S+)", result.stdout).group(1)
    secret = tmp_path / "rabbitmq-obsy-telescope-scope1"  # the name vars/main.yml looks up
    assert secret.read_text() == password + "\n" and secret.stat().st_mode & 0o777 == 0o600
    again = CliRunner().invoke(master_group, args)
    assert again.exit_code != 0 and "exists" in again.output and secret.read_text() == password + "\n"
