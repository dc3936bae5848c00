"""Each signature against its provider's documented example, and webhooks verified by a Standard Webhooks library."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from siyu.notices.channels import AliyunSms, SmsMessage
from siyu.notices.signing import (
    aliyun_signature,
    aliyun_string_to_sign,
    new_webhook_secret,
    tc3_authorization,
    tc3_canonical_request,
    tc3_string_to_sign,
    webhook_headers,
)


def test_aliyun_rpc_signature_reproduces_the_documented_example() -> None:
    # Aliyun's RPC signature documentation (签名机制): ECS DescribeRegions with AccessKey "testid" / "testsecret";
    # the string to sign and the signature are the published ones.
    params = {
        "Timestamp": "2016-02-23T12:46:24Z",
        "Format": "XML",
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "Version": "2014-05-26",
        "SignatureVersion": "1.0",
    }
    assert aliyun_string_to_sign("GET", params) == (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1"
        "%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0"
        "%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
    )
    assert aliyun_signature("testsecret", "GET", params) == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_aliyun_send_sms_signs_chinese_and_json_parameters() -> None:
    sender = AliyunSms("https://dysmsapi.aliyuncs.com", key_id="k", secret="s")
    message = SmsMessage("13800138000", "小鱼直播间", "SMS_1", {"title": "帆布包 ~*"})
    params = sender.signed_params(message, now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), nonce="n")
    signature = params.pop("Signature")
    assert params["Timestamp"] == "2026-01-02T03:04:05Z" and params["TemplateParam"] == '{"title":"帆布包 ~*"}'
    assert signature == aliyun_signature("s", "POST", params)
    assert aliyun_string_to_sign("POST", params).startswith("POST&%2F&")
    assert "%7E" not in aliyun_string_to_sign("POST", params)  # "~" stays as it is, "*" is escaped
    assert "%252A" in aliyun_string_to_sign("POST", params)


# Tencent Cloud API 3.0, "Signature v3" (签名方法 v3): CVM DescribeInstances at 1551113065 (2019-02-25 UTC).
CANONICAL_HEAD = (
    "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\ncontent-type;host\n"
)


def test_tencent_tc3_reproduces_the_published_example_with_its_published_key() -> None:
    # The English edition of the document publishes every value, the SecretKey included
    # (Gu5t9xGARNpq86cd98joQYCN3EXAMPLE): payload, its hash, the canonical request and its hash, the string to sign,
    # the signature and the Authorization header.
    payload = '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    canonical = tc3_canonical_request(payload, host="cvm.tencentcloudapi.com")
    assert canonical == CANONICAL_HEAD + "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    string_to_sign = tc3_string_to_sign(canonical, timestamp=1551113065, service="cvm")
    assert string_to_sign == (
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    )
    authorization = tc3_authorization(
        secret_id="AKID**********************0123456789EXAMPLE",
        secret_key="Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        service="cvm",
        host="cvm.tencentcloudapi.com",
        timestamp=1551113065,
        payload=payload,
    )
    assert authorization == (
        "TC3-HMAC-SHA256 Credential=AKID**********************0123456789EXAMPLE/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=content-type;host, "
        "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    )


def test_tencent_tc3_steps_reproduce_the_current_published_example() -> None:
    # The current edition (SecretId AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******) masks its SecretKey, so its final signature
    # cannot be recomputed; the steps before the key are published in full and must match byte for byte.
    payload = '{"Limit": 1, "Filters": [{"Values": ["unnamed"], "Name": "instance-name"}]}'
    canonical = tc3_canonical_request(payload, host="cvm.tencentcloudapi.com")
    assert canonical == CANONICAL_HEAD + "99d58dfbc6745f6747f36bfca17dee5e6881dc0428a0a36f96199342bc5b4907"
    assert tc3_string_to_sign(canonical, timestamp=1551113065, service="cvm") == (
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
        "2815843035062fffda5fd6f2a44ea8a34818b0dc46f024b8b3786976a3adda7a"
    )
    authorization = tc3_authorization(
        secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
        secret_key="any",
        service="cvm",
        host="cvm.tencentcloudapi.com",
        timestamp=1551113065,
        payload=payload,
    )
    assert authorization.startswith(
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=content-type;host, Signature="
    )


def test_the_tc3_date_is_the_utc_date_of_the_timestamp() -> None:
    # 1551113065 is 2019-02-26 00:44:25 in Beijing: the scope still says 2019-02-25.
    assert tc3_string_to_sign("x", timestamp=1551113065, service="sms").split("\n")[2] == "2019-02-25/sms/tc3_request"


def test_webhooks_verify_with_a_standard_webhooks_library() -> None:
    secret = new_webhook_secret()
    body = json.dumps({"type": "notice.shipped", "data": {"title": "帆布包"}}, ensure_ascii=False)
    now = int(datetime.now(UTC).timestamp())
    headers = webhook_headers([secret], msg_id="msg_1", timestamp=now, body=body)
    assert Webhook(secret).verify(body, headers) == {"type": "notice.shipped", "data": {"title": "帆布包"}}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("帆布包", "手机"), headers)


def test_during_a_rotation_both_secrets_sign_and_either_verifies() -> None:
    old, new = new_webhook_secret(), new_webhook_secret()
    body = '{"type":"notice.test"}'
    now = int(datetime.now(UTC).timestamp())
    headers = webhook_headers([new, old], msg_id="msg_2", timestamp=now, body=body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(body, headers) == {"type": "notice.test"}
    assert Webhook(new).verify(body, headers) == {"type": "notice.test"}


def test_the_js_sdk_signature_matches_wechats_example() -> None:
    from siyu.notices.signing import jssdk_signature

    ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    url = "http://mp.weixin.qq.com?params=value"
    signed = jssdk_signature(ticket, nonce="Wm3WZYTPz0wzccnW", timestamp=1414587457, url=url + "#top")
    assert signed == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
