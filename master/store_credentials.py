"""Object-store credentials for a telescope node: a key that may write only ``incoming/<node>/``.

The policy is plain IAM policy JSON, which MinIO reads too (``mc admin policy create``). The node
may put its frames and read them back (the uploader checks what an interrupted upload left), and
nothing else: no listing, no other node's frames, nothing the master has filed. Where the store
speaks the IAM API (AWS, Ceph RGW, moto) the account is created through it; for MinIO the
``mc admin`` commands are printed.
"""
from __future__ import annotations

import json
import re
import secrets
import shlex
from dataclasses import dataclass, replace

from common import names
from common.contracts import NODE_NAME_PATTERN
from .credentials import PASSWORD_CHARS

SECRET_LENGTH = 40
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


class IamError(RuntimeError):
    """The IAM endpoint refused or could not be reached; the message says which and why."""


@dataclass(frozen=True)
class StoreAccount:
    user: str
    bucket: str
    policy_name: str
    policy: dict
    access_key: str = ""
    secret_key: str = ""


def telescope_policy(bucket: str, node: str) -> dict:
    if not re.fullmatch(NODE_NAME_PATTERN, node):
        raise ValueError(f"node name {node!r} must match {NODE_NAME_PATTERN}")
    if not re.fullmatch(BUCKET_PATTERN, bucket):
        raise ValueError(f"bucket name {bucket!r} is not a valid S3 bucket name")
    return {"Version": "2012-10-17",
            "Statement": [{"Sid": "OwnIncomingFrames", "Effect": "Allow",
                           "Action": ["s3:PutObject", "s3:GetObject"],
                           "Resource": [f"arn:aws:s3:::{bucket}/{names.incoming_prefix(node)}*"]}]}


def new_store_account(node: str, bucket: str) -> StoreAccount:
    """The account with a generated secret (for MinIO, where the admin chooses both keys)."""
    policy = telescope_policy(bucket, node)
    user = f"obsy-telescope-{node}"
    secret = "".join(secrets.choice(PASSWORD_CHARS) for _ in range(SECRET_LENGTH))
    return StoreAccount(user, bucket, user, policy, access_key=user, secret_key=secret)


def policy_json(account: StoreAccount) -> str:
    return json.dumps(account.policy, indent=2) + "\n"


def mc_admin_lines(account: StoreAccount, policy_path: str, alias: str = "obsy") -> list[str]:
    """MinIO client commands that create the user and attach the policy (alias: ``mc alias set``)."""
    q = shlex.quote
    return [f"mc admin user add {q(alias)} {q(account.access_key)} {q(account.secret_key)}",
            f"mc admin policy create {q(alias)} {q(account.policy_name)} {q(policy_path)}",
            f"mc admin policy attach {q(alias)} {q(account.policy_name)} --user {q(account.access_key)}"]


def create_with_iam(account: StoreAccount, endpoint_url: str, admin_key: str, admin_secret: str,
                    region: str = "") -> StoreAccount:
    """Create the IAM user, its policy and an access key; the account returned carries that key."""
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise IamError("creating the account needs boto3: pip install 'obsy[iam]'") from None
    iam = boto3.client("iam", endpoint_url=endpoint_url, region_name=region or "us-east-1",
                       aws_access_key_id=admin_key, aws_secret_access_key=admin_secret)
    try:
        iam.create_user(UserName=account.user)
        arn = iam.create_policy(PolicyName=account.policy_name,
                                PolicyDocument=json.dumps(account.policy))["Policy"]["Arn"]
        iam.attach_user_policy(UserName=account.user, PolicyArn=arn)
        key = iam.create_access_key(UserName=account.user)["AccessKey"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise IamError(f"IAM at {endpoint_url} refused: {error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as exc:
        raise IamError(f"IAM at {endpoint_url} unreachable or failed: {exc}") from None
    return replace(account, access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
