"""docs/aws.md and examples/aws.yaml stay true: the example validates, and the minimal IAM
policy allows every AWS action a whole lifecycle (create, change, remove) really calls."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aws_world import AwsWorld
from clihelpers import run

from providers.aws.session import API_CALLS

REPO = Path(__file__).resolve().parents[2]

# botocore operation -> the IAM actions it needs, where the names differ
IAM_ACTIONS = {
    ("s3", "ListObjectsV2"): ["s3:ListBucket"],
    ("s3", "HeadBucket"): ["s3:ListBucket"],
    ("s3", "ListObjectVersions"): ["s3:ListBucketVersions"],
    ("s3", "DeleteObjects"): ["s3:DeleteObject", "s3:DeleteObjectVersion"],
    ("s3", "PutPublicAccessBlock"): ["s3:PutBucketPublicAccessBlock"],
    ("s3", "CreateBucket"): ["s3:CreateBucket", "s3:PutBucketOwnershipControls"],
    ("cloudfront", "CreateDistributionWithTags"): [
        "cloudfront:CreateDistribution",
        "cloudfront:TagResource",
    ],
    ("acm", "RequestCertificate"): ["acm:RequestCertificate", "acm:AddTagsToCertificate"],
    ("sts", "GetCallerIdentity"): [],
}


def documented_actions() -> set[str]:
    text = (REPO / "docs" / "aws.md").read_text()
    [block] = re.findall(r"```json\n(.*?)```", text, re.S)
    policy = json.loads(block)
    return {a for s in policy["Statement"] for a in s["Action"]}


def test_the_example_spec_validates(aws: AwsWorld):
    result = run("validate", "-c", REPO / "examples" / "aws.yaml")
    assert result.exit_code == 0, result.stderr


def test_the_documented_iam_policy_allows_every_call_of_a_lifecycle(aws: AwsWorld):
    aws.create_zone("example.com", mx=["mx1.example.com"])
    aws.create_zone("example.org", mx=["mx1.example.org"])
    both = {"example.com": {"mx": ["mx1.example.com"]}, "example.org": {"mx": ["mx1.example.org"]}}
    API_CALLS.reset()
    assert run("apply", "-c", aws.spec(both), "--auto-approve").exit_code == 0
    both["example.org"]["mode"] = "enforce"
    assert run("apply", "-c", aws.spec(both), "--auto-approve").exit_code == 0
    spec = aws.spec({"example.org": both["example.org"]})
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    later = {"MTASTS_NOW": (datetime.now(UTC) + timedelta(days=2)).isoformat()}
    assert run("apply", "-c", spec, "--auto-approve", env=later).exit_code == 0
    assert not aws.has_policy("example.com")

    needed = set()
    for service, operation in API_CALLS.calls:
        needed.update(IAM_ACTIONS.get((service, operation), [f"{service}:{operation}"]))
    missing = needed - documented_actions()
    assert not missing, f"docs/aws.md's IAM policy lacks {sorted(missing)}"
