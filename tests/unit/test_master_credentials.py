"""``obsy master credentials create``: the same scoped RabbitMQ account the playbook makes."""
import ast
import json
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


def test_mosquitto_password_line_is_pbkdf2_sha512_as_mosquitto_passwd_writes():
    import base64
    import hashlib

    from master.mqtt_credentials import password_file_line

    line = password_file_line("obsy-remote-pub", "s3cret", salt=b"0123456789ab")
    name, _, rest = line.partition(":")
    kind, iterations, salt, digest = rest.split("$")[1:]
    assert (name, kind, iterations, base64.b64decode(salt)) == ("obsy-remote-pub", "7", "101", b"0123456789ab")
    assert base64.b64decode(digest) == hashlib.pbkdf2_hmac("sha512", b"s3cret", b"0123456789ab", 101)
    assert password_file_line("a", "s3cret") != password_file_line("a", "s3cret")  # a new salt each time


def test_mqtt_accounts_print_their_acl_and_are_added_to_the_files_once(tmp_path):
    result = CliRunner().invoke(master_group, ["credentials", "create", "public1", "--role", "remote",
                                               "--topic-prefix", "obs"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert re.search(r"^user=obsy-remote-public1 password=[A-Za-z0-9]{32}$", out, re.M)
    assert re.search(r"^obsy-remote-public1:\$7\$101\$", out, re.M)
    assert "user obsy-remote-public1\ntopic read obs/#\n" in out and "write" not in out
    master = CliRunner().invoke(master_group, ["credentials", "create", "main", "--role", "master",
                                               "--mqtt-dir", str(tmp_path)])
    assert master.exit_code == 0, master.output
    acl = (tmp_path / "acl").read_text()
    assert "user obsy-master-main\ntopic write obsy/#\ntopic write homeassistant/#\n" in acl
    assert (tmp_path / "passwd").read_text().startswith("obsy-master-main:$7$")
    assert (tmp_path / "passwd").stat().st_mode & 0o777 == 0o600
    again = CliRunner().invoke(master_group, ["credentials", "create", "main", "--role", "master",
                                              "--mqtt-dir", str(tmp_path)])
    assert again.exit_code != 0 and "already in" in again.output
    assert (tmp_path / "acl").read_text() == acl
    bad = CliRunner().invoke(master_group, ["credentials", "create", "main", "--role", "remote",
                                            "--topic-prefix", "a/b"])
    assert bad.exit_code != 0 and "topic prefix" in bad.output


def test_store_policy_allows_the_nodes_incoming_prefix_only(tmp_path):
    from master.store_credentials import telescope_policy

    [statement] = telescope_policy("obsy", "scope1")["Statement"]
    assert statement == {"Sid": "OwnIncomingFrames", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
                         "Resource": ["arn:aws:s3:::obsy/incoming/scope1/*"]}
    with pytest.raises(ValueError, match="bucket name"):
        telescope_policy("Bad_Bucket", "scope1")
    with pytest.raises(ValueError, match="node name"):
        telescope_policy("obsy", "../scope2")

    config = tmp_path / "master.toml"
    config.write_text('[store]\nbucket = "frames"\n')
    policy = tmp_path / "p.json"
    result = CliRunner().invoke(master_group, ["credentials", "create", "scope1", "--role", "telescope", "--store",
                                               "--config", str(config), "--policy-file", str(policy)])
    assert result.exit_code == 0, result.output
    assert json.loads(policy.read_text())["Statement"][0]["Resource"] == ["arn:aws:s3:::frames/incoming/scope1/*"]
    secret = re.search(r'^secret_key = "([A-Za-z0-9]{40})"$', result.stdout, re.M).group(1)
    assert f"mc admin user add obsy obsy-telescope-scope1 {secret}" in result.stdout
    assert f"mc admin policy create obsy obsy-telescope-scope1 {policy}" in result.stdout
    assert "mc admin policy attach obsy obsy-telescope-scope1 --user obsy-telescope-scope1" in result.stdout
    assert 'bucket = "frames"' in result.stdout and 'access_key = "obsy-telescope-scope1"' in result.stdout
    printed = CliRunner().invoke(master_group, ["credentials", "create", "scope1", "--role", "telescope", "--store",
                                                "--config", str(config)])
    assert "save the policy above as obsy-telescope-scope1.json" in printed.stdout
    roof = CliRunner().invoke(master_group, ["credentials", "create", "roof1", "--role", "observatory", "--store"])
    assert roof.exit_code != 0 and "--store is for telescope nodes" in roof.output
    bad = CliRunner().invoke(master_group, ["credentials", "create", "scope1", "--role", "telescope", "--store",
                                            "--config", str(config), "--bucket", "No"])
    assert bad.exit_code != 0 and "bucket name" in bad.output
