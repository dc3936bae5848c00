"""Request signing, pure functions: Aliyun's RPC signature (HMAC-SHA1), Tencent Cloud's TC3-HMAC-SHA256, WeChat's
JS-SDK page signature, and Standard Webhooks 1.0 signatures for the tenant's own endpoints. Each is tested against
its documented example."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from urllib.parse import quote

# Aliyun RPC style (dysmsapi SendSms is an RPC API)


def _aliyun_escape(value: str) -> str:
    """Percent-encoding as Aliyun wants it: RFC 3986 unreserved characters kept, everything else %XX."""
    return quote(value, safe="-_.~")


def aliyun_string_to_sign(method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{_aliyun_escape(k)}={_aliyun_escape(v)}" for k, v in sorted(params.items()))
    return f"{method.upper()}&{_aliyun_escape('/')}&{_aliyun_escape(canonical)}"


def aliyun_signature(secret: str, method: str, params: dict[str, str]) -> str:
    """Base64 HMAC-SHA1 of the string to sign, keyed by the AccessKey secret followed by "&"."""
    digest = hmac.new(f"{secret}&".encode(), aliyun_string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# Tencent Cloud API 3.0


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac256(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def tc3_canonical_request(payload: str, *, host: str, content_type: str = "application/json; charset=utf-8") -> str:
    """Step 1: the canonical request of a POST to "/" with a JSON body, signing content-type and host."""
    return "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{content_type}\nhost:{host}\n",
            "content-type;host",
            _sha256_hex(payload.encode()),
        ]
    )


def tc3_scope(timestamp: int, service: str) -> str:
    """The credential scope: the request's UTC date, the service, "tc3_request"."""
    return f"{datetime.fromtimestamp(timestamp, UTC).strftime('%Y-%m-%d')}/{service}/tc3_request"


def tc3_string_to_sign(canonical_request: str, *, timestamp: int, service: str) -> str:
    """Step 2."""
    scope = tc3_scope(timestamp, service)
    return f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{_sha256_hex(canonical_request.encode())}"


def tc3_signature(secret_key: str, string_to_sign: str, *, timestamp: int, service: str) -> str:
    """Step 3: HMAC-SHA256 of the string to sign with a key derived from the secret, the date and the service."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    key = _hmac256(_hmac256(_hmac256(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def tc3_authorization(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    timestamp: int,
    payload: str,
    content_type: str = "application/json; charset=utf-8",
) -> str:
    """Step 4: the Authorization header of a POST with a JSON body, signing content-type and host."""
    canonical = tc3_canonical_request(payload, host=host, content_type=content_type)
    string_to_sign = tc3_string_to_sign(canonical, timestamp=timestamp, service=service)
    signature = tc3_signature(secret_key, string_to_sign, timestamp=timestamp, service=service)
    scope = tc3_scope(timestamp, service)
    return f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={signature}"


# WeChat JS-SDK (wx.config on an H5 page)


def jssdk_signature(ticket: str, *, nonce: str, timestamp: int, url: str) -> str:
    """SHA-1 hex of "jsapi_ticket=..&noncestr=..&timestamp=..&url=.." (keys in this order, values as they are); the
    URL is the page's own, without its #fragment."""
    page = url.split("#", 1)[0]
    return hashlib.sha1(  # noqa: S324 - the algorithm WeChat prescribes for this signature
        f"jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={page}".encode()
    ).hexdigest()


# Standard Webhooks 1.0

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, not a secret


def new_webhook_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def webhook_signature(secret: str, *, msg_id: str, timestamp: int, body: str) -> str:
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed by the base64-decoded secret."""
    digest = hmac.new(_secret_bytes(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_headers(secrets_in_use: list[str], *, msg_id: str, timestamp: int, body: str) -> dict[str, str]:
    """The three headers; during a rotation one signature per secret, separated by spaces."""
    signatures = " ".join(webhook_signature(s, msg_id=msg_id, timestamp=timestamp, body=body) for s in secrets_in_use)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
        "content-type": "application/json",
    }
