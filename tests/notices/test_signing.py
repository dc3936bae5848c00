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
    webhook_headers,
)


def test_aliyun_rpc_signature_reproduces_the_documented_example() -> None:
    # Aliyun's RPC signature documentation: DescribeRegions with AccessKey "testid" / "testsecret".
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


def test_tencent_tc3_signature_reproduces_the_documented_example() -> None:
    # Tencent Cloud API 3.0 signature documentation: CVM DescribeInstances at 1551113065 (2019-02-25).
    payload = '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    authorization = tc3_authorization(
        secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
        secret_key="Gu5t9xGARNpq86cd98joQYCN3*******",
        service="cvm",
        host="cvm.tencentcloudapi.com",
        timestamp=1551113065,
        payload=payload,
    )
    assert authorization == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=content-type;host, "
        "Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
    )


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
