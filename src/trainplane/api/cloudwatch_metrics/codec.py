"""The two protocols botocore may speak to CloudWatch: smithy-rpc-v2-cbor (its first choice today) and
AWS JSON 1.0 (its fallback). Requests decode to JSON-like values (timestamps as epoch seconds) for the
shared constraint checker; answers encode datetimes as each protocol wants them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import cbor2

from trainplane.api.sagemaker import shapes

CBOR_CONTENT_TYPE = "application/cbor"
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"


class Codec:
    content_type = ""
    extra_headers: ClassVar[Mapping[str, str]] = {}

    def decode(self, raw: bytes) -> Any:
        raise NotImplementedError

    def encode(self, document: Mapping[str, Any]) -> bytes:
        raise NotImplementedError


class CborCodec(Codec):
    content_type = CBOR_CONTENT_TYPE
    extra_headers: ClassVar[Mapping[str, str]] = {"smithy-protocol": "rpc-v2-cbor"}

    def decode(self, raw: bytes) -> Any:
        if not raw:
            return {}
        try:
            return _epochs(cbor2.loads(raw))
        except (cbor2.CBORDecodeError, ValueError, RecursionError) as exc:
            raise shapes.ShapeSerializationError("", f"the request body is not valid CBOR: {exc}") from exc

    def encode(self, document: Mapping[str, Any]) -> bytes:
        return cbor2.dumps(document, datetime_as_timestamp=True)


class JsonCodec(Codec):
    content_type = JSON_CONTENT_TYPE

    def decode(self, raw: bytes) -> Any:
        shapes.check_value_count(raw)
        try:
            return json.loads(raw or b"{}")
        except (ValueError, RecursionError) as exc:
            raise shapes.ShapeSerializationError("", f"the request body is not valid JSON: {exc}") from exc

    def encode(self, document: Mapping[str, Any]) -> bytes:
        return json.dumps(document, default=_json_default, separators=(",", ":")).encode()


def _epochs(value: Any) -> Any:
    """Tag-1 timestamps (cbor2 gives datetimes) as epoch seconds, as JSON carries them."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {key: _epochs(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_epochs(item) for item in value]
    return value


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON")
