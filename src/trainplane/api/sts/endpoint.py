"""STS in its query protocol: a form-encoded `POST /` (`Action=GetCallerIdentity&Version=2011-06-15`),
answered in XML, as botocore's "sts" model speaks it (signing name "sts").

The account is the caller's tenant's (its `aws_account_id`), or the server's when the tenant has none:
the one the ARNs of the tenant's jobs carry, and what the SageMaker SDK names its default bucket after
(`sagemaker-<region>-<account>`).
"""

from __future__ import annotations

import logging
import urllib.parse
import uuid
from collections.abc import Mapping
from xml.sax.saxutils import escape

from trainplane.api.auth import port as auth
from trainplane.api.auth.port import Authenticator, Principal, RequestFacts
from trainplane.api.off_loop import Answer, ReadingEndpoint, Workers
from trainplane.domain import errors
from trainplane.domain.status import JobKind
from trainplane.service.jobs import JobService

log = logging.getLogger("trainplane.api.sts")
CONTENT_TYPE = "text/xml"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
# STS's own words for a request that fails to authenticate (query protocol: <Error><Code>).
_AUTH_ERRORS: Mapping[type[Exception], tuple[int, str]] = {
    auth.MissingCredentials: (403, "MissingAuthenticationToken"),
    auth.UnknownCredential: (403, "InvalidClientTokenId"),
    auth.MalformedSignature: (400, "IncompleteSignature"),
    auth.BadSignature: (403, "SignatureDoesNotMatch"),
}


class InvalidAction(Exception):
    pass


class StsEndpoint(ReadingEndpoint):
    """The ASGI app answering `GetCallerIdentity` for the principal each request authenticates as."""

    def __init__(self, service: JobService, authenticator: Authenticator, workers: Workers) -> None:
        self._service = service
        self._authenticator = authenticator
        super().__init__(workers)

    def answer(self, request: RequestFacts) -> Answer:
        """Status, headers and body for `request`; blocking (a key store read): run it off the loop."""
        request_id = str(uuid.uuid4())
        headers = {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id}
        try:
            principal = self._authenticator.authenticate(request)
            action = _form(request.body).get("Action", "")
            if action != "GetCallerIdentity":
                raise InvalidAction(action)
            return 200, headers, self._caller_identity(principal, request_id)
        except Exception as exc:
            status, code, message = _wire_error(exc, request_id)
            return status, headers, _error_document(code, message, request_id)

    def _caller_identity(self, principal: Principal, request_id: str) -> bytes:
        # The ARN of any job of the tenant names its account and the server's region.
        account = self._service.arn(JobKind.TRAINING, "-", principal.aws_account_id).split(":")[4]
        tenant = escape(principal.tenant)
        return (
            f'<GetCallerIdentityResponse xmlns="{NAMESPACE}"><GetCallerIdentityResult>'
            f"<Arn>arn:aws:iam::{account}:user/{tenant}</Arn><UserId>{tenant}</UserId>"
            f"<Account>{account}</Account></GetCallerIdentityResult>"
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
            "</GetCallerIdentityResponse>"
        ).encode()


def _form(body: bytes) -> dict[str, str]:
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        return {}
    return dict(pairs)


def _wire_error(exc: Exception, request_id: str) -> tuple[int, str, str]:
    """(HTTP status, Code, Message) as STS words them."""
    if isinstance(exc, InvalidAction):
        return 400, "InvalidAction", f"Could not find operation {str(exc)[:100]} for version 2011-06-15"
    if isinstance(exc, errors.Unauthorized):
        return (*_AUTH_ERRORS.get(type(exc), (403, "InvalidClientTokenId")), str(exc))
    if isinstance(exc, errors.Unavailable):
        return 503, "ServiceUnavailable", str(exc)
    log.error("event=internal_error request_id=%s operation=sts", request_id, exc_info=exc)
    return 500, "InternalFailure", f"An internal error occurred. Request id: {request_id}."


def _error_document(code: str, message: str, request_id: str) -> bytes:
    kind = "Receiver" if code in ("InternalFailure", "ServiceUnavailable") else "Sender"
    return (
        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>{kind}</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
