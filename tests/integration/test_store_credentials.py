"""A telescope node's object-store key from ``obsy master credentials create --store``, on a real
moto server that authorises every request by IAM policy: the node writes under incoming/<node>/
and nowhere else, and reads no other node's frames."""
from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from common.objectstore import ObjectStoreError, S3ObjectStore
from master.cli import master_group
from tests.servers import S3Server

BUCKET = "obsy-frames"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@pytest.fixture(scope="module")
def iam_s3():
    """A private moto (the session's accepts any key); the master's admin key made before IAM is on."""
    server = S3Server()
    server.start()
    try:
        iam = server.iam_client()
        iam.create_user(UserName="obsy-master")
        iam.put_user_policy(UserName="obsy-master", PolicyName="everything", PolicyDocument=json.dumps(ALLOW_ALL))
        key = iam.create_access_key(UserName="obsy-master")["AccessKey"]
        server.enforce_iam()
        yield server, key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        server.stop()


def store(server, access_key, secret_key) -> S3ObjectStore:
    return S3ObjectStore(server.endpoint, access_key, secret_key, BUCKET, secure=False, region=server.region)


def master_config(tmp_path, server, access_key, secret_key):
    path = tmp_path / "master.toml"
    path.write_text(f'[store]\nkind = "s3"\nendpoint = "{server.endpoint}"\naccess_key = "{access_key}"\n'
                    f'secret_key = "{secret_key}"\nbucket = "{BUCKET}"\nsecure = false\nregion = "{server.region}"\n')
    return path


def create(config, server, node="scope1", *extra):
    return CliRunner().invoke(master_group, ["credentials", "create", node, "--role", "telescope", "--store",
                                             "--config", str(config), "--iam-endpoint", server.endpoint_url,
                                             *extra])


def test_the_telescope_key_writes_only_its_own_prefix(iam_s3, tmp_path):
    server, admin_key, admin_secret = iam_s3
    master = store(server, admin_key, admin_secret)  # makes the bucket
    master.put_bytes("incoming/scope2/" + "2" * 64 + ".fits", b"scope2's frame")
    master.put_bytes("frames/2024-03-09/M42/L/" + "3" * 64 + ".fits", b"a filed frame")
    with pytest.raises(ObjectStoreError, match="SignatureDoesNotMatch|InvalidAccessKeyId"):
        store(server, "nobody", "guess").put_bytes("incoming/scope1/x.fits", b"x")

    policy_file = tmp_path / "policy.json"
    result = create(master_config(tmp_path, server, admin_key, admin_secret), server, "scope1",
                    "--policy-file", str(policy_file))
    assert result.exit_code == 0, result.output
    assert json.loads(policy_file.read_text())["Statement"][0]["Resource"] == [
        f"arn:aws:s3:::{BUCKET}/incoming/scope1/*"]
    assert "created user obsy-telescope-scope1" in result.stdout
    access_key = re.search(r'^access_key = "(\S+)"$', result.stdout, re.M).group(1)
    secret_key = re.search(r'^secret_key = "(\S+)"$', result.stdout, re.M).group(1)

    node = store(server, access_key, secret_key)  # it may not look at the bucket, and need not
    frame = tmp_path / "frame.fits"
    frame.write_bytes(b"SIMPLE  = T" + b" " * 100)
    own = "incoming/scope1/" + "1" * 64 + ".fits"
    assert node.stat(own) is None  # what the uploader asks before it uploads
    node.put_file(own, frame)
    assert node.stat(own).size == frame.stat().st_size and node.get_bytes(own) == frame.read_bytes()
    for key in ("incoming/scope2/" + "4" * 64 + ".fits", "frames/2024-03-09/M42/L/" + "5" * 64 + ".fits",
                "incoming/scope10/" + "6" * 64 + ".fits"):
        with pytest.raises(ObjectStoreError, match="AccessDenied"):
            node.put_bytes(key, b"not mine to write")
    for key in ("incoming/scope2/" + "2" * 64 + ".fits", "frames/2024-03-09/M42/L/" + "3" * 64 + ".fits"):
        with pytest.raises(ObjectStoreError, match="AccessDenied"):
            node.get_bytes(key)
    with pytest.raises(ObjectStoreError, match="AccessDenied"):
        list(node.list("incoming/"))
    with pytest.raises(ObjectStoreError, match="AccessDenied"):
        node.delete("incoming/scope2/" + "2" * 64 + ".fits")
    assert master.get_bytes("incoming/scope2/" + "2" * 64 + ".fits") == b"scope2's frame"
    assert sorted(info.key for info in master.list("incoming/")) == [own, "incoming/scope2/" + "2" * 64 + ".fits"]


def test_iam_refusals_are_reported(iam_s3, tmp_path):
    server, admin_key, admin_secret = iam_s3
    config = master_config(tmp_path, server, admin_key, admin_secret)
    assert create(config, server, "scope3").exit_code == 0
    again = create(config, server, "scope3")
    assert again.exit_code != 0 and "refused: EntityAlreadyExists" in again.output
    wrong = create(master_config(tmp_path, server, admin_key, "not the secret"), server, "scope4")
    assert wrong.exit_code != 0 and "refused" in wrong.output
