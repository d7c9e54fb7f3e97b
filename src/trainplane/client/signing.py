"""SigV4 request signing with botocore's own signer, as an httpx auth flow (every call, logs included).

Only `host`, `content-type` and `x-amz-target` are signed (plus `x-amz-date` and a session token the
signer adds): headers a proxy or httpx itself may rewrite (accept-encoding, content-length) stay out.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SERVICE = "sagemaker"  # the signing name trainplane's SageMaker dialect verifies
SIGNED_HEADERS = ("host", "content-type", "x-amz-target")
COPIED_BACK = ("authorization", "x-amz-date", "x-amz-security-token")


@dataclass(frozen=True)
class SigningKeys:
    """An AWS-style key pair (from `trainplane credentials add --kind aws`), optionally a session token."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


class SigV4(httpx.Auth):
    requires_request_body = True

    def __init__(self, keys: SigningKeys, region: str) -> None:
        self._credentials = Credentials(keys.access_key_id, keys.secret_access_key, keys.session_token)
        self._region = region

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        headers = {name: request.headers[name] for name in SIGNED_HEADERS if name in request.headers}
        signed = AWSRequest(
            method=request.method, url=str(request.url), headers=headers, data=request.content
        )
        SigV4Auth(self._credentials, SERVICE, self._region).add_auth(signed)
        for name, value in signed.headers.items():
            if name.lower() in COPIED_BACK:
                request.headers[name] = value
        yield request
