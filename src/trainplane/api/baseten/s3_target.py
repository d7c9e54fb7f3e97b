"""The S3 calls boto3 makes to upload a file (PutObject; CreateMultipartUpload, UploadPart,
CompleteMultipartUpload, AbortMultipartUpload), path-style under `/v1/blobs/s3/{bucket}/{key}`, signed
with credentials from `GET /v1/blobs/credentials/train`; answers and errors in S3's XML."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from trainplane.api.asgi import request_headers
from trainplane.api.auth.port import RequestFacts
from trainplane.api.auth.sigv4 import SigV4Verifier
from trainplane.api.baseten import uploads
from trainplane.api.baseten.context import Call, Services
from trainplane.api.off_loop import Workers
from trainplane.domain import errors

ROUTE = "/v1/blobs/s3/{bucket}/{key:path}"
ENDPOINT_PATH = "/v1/blobs/s3"
_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
_PART_NUMBER = re.compile(r"<PartNumber>\s*([0-9]{1,5})\s*</PartNumber>")
_S3_CODES: Mapping[type[BaseException], tuple[int, str]] = {
    errors.NotFound: (404, "NoSuchUpload"),
    errors.Invalid: (400, "InvalidRequest"),
    errors.Unauthorized: (403, "SignatureDoesNotMatch"),
    errors.Unavailable: (503, "ServiceUnavailable"),
}


def credentials(call: Call) -> dict[str, Any]:
    """`GET /v1/blobs/credentials/train`: where and with what `truss train push` uploads its code."""
    if call.services.blobs is None:
        raise errors.Unavailable("this server has no data directory for uploads")
    key_id, secret = call.services.upload_keys.issue(call.tenant)
    return {
        "s3_bucket": uploads.BUCKET,
        "s3_key": f"{uuid.uuid4().hex}/training.tar.gz",
        "creds": {
            "aws_access_key_id": key_id,
            "aws_secret_access_key": secret,
            "aws_session_token": "",  # empty: botocore then sends no X-Amz-Security-Token
            "endpoint_url": call.base_url + ENDPOINT_PATH,
            "region_name": uploads.REGION,
        },
    }


class S3Target:
    def __init__(self, services: Services, workers: Workers) -> None:
        self._services = services
        self._verifier = SigV4Verifier(lambda: services.upload_keys, "s3")
        self._workers = workers

    async def endpoint(self, request: Request) -> Response:
        try:
            body = await request.body()
        except ClientDisconnect:
            return Response(status_code=400)
        status, headers, content = await self._workers.run(False, lambda: self._answer(request, body))
        return Response(content, status, headers)

    def _answer(self, request: Request, body: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            facts = RequestFacts.from_scope(request.scope, request_headers(request.scope), body)
            tenant = self._verifier.authenticate(facts).tenant
            _check_payload(facts, body)
            return self._operation(request, tenant, body)
        except Exception as exc:
            return _error(exc)

    def _operation(self, request: Request, tenant: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        blobs = self._services.blobs
        if blobs is None:
            raise errors.Unavailable("this server has no data directory for uploads")
        bucket, key = request.path_params["bucket"], request.path_params["key"]
        path = blobs.path(tenant, bucket, key)
        query, method = request.query_params, request.method
        if method == "PUT" and "uploadId" in query:
            etag = blobs.put_part(path, query["uploadId"], query.get("partNumber", ""), body)
            return 200, {"ETag": f'"{etag}"'}, b""
        if method == "PUT":
            return 200, {"ETag": f'"{blobs.put(path, body)}"'}, b""
        if method == "POST" and "uploads" in query:
            upload_id = blobs.start_multipart(path)
            return _xml("InitiateMultipartUploadResult", Bucket=bucket, Key=key, UploadId=upload_id)
        if method == "POST" and "uploadId" in query:
            numbers = [int(n) for n in _PART_NUMBER.findall(body.decode("utf-8", "replace"))]
            etag = blobs.complete(path, query["uploadId"], numbers)
            return _xml("CompleteMultipartUploadResult", Bucket=bucket, Key=key, ETag=f'"{etag}"')
        if method == "DELETE" and "uploadId" in query:
            blobs.abort(path, query["uploadId"])
            return 204, {}, b""
        raise errors.Invalid("", f"{method} is not an upload call this server answers")


def _check_payload(facts: RequestFacts, body: bytes) -> None:
    """A signed payload hash must be the body's (the signature covers the header, not the bytes)."""
    declared = facts.headers.get("x-amz-content-sha256", "")
    if re.fullmatch(r"[0-9a-f]{64}", declared) and declared != hashlib.sha256(body).hexdigest():
        raise errors.Invalid(
            "", "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    if "aws-chunked" in facts.headers.get("content-encoding", ""):
        raise errors.Invalid("", "aws-chunked uploads are not supported here")


def _xml(root: str, **members: str) -> tuple[int, dict[str, str], bytes]:
    inner = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in members.items())
    document = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{_NS}">{inner}</{root}>'
    return 200, {"Content-Type": "application/xml"}, document.encode()


def _error(exc: BaseException) -> tuple[int, dict[str, str], bytes]:
    status, code = next((_S3_CODES[c] for c in type(exc).__mro__ if c in _S3_CODES), (500, "InternalError"))
    message = str(getattr(exc, "message", "")) if status < 500 else "We encountered an internal error."
    document = f"<Error><Code>{code}</Code><Message>{escape(message[:1000])}</Message></Error>"
    return status, {"Content-Type": "application/xml"}, document.encode()
