"""The `aws` provider: MTA-STS on Route53, S3, ACM and CloudFront through boto3.

Importing this package imports boto3; without it the registry reports the missing
`aws` extra in one line.
"""

from providers.aws.provider import AwsProvider

__all__ = ["AwsProvider"]
