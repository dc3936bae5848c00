"""Fake WeChat and SMS gateways on this machine, for the demo (and the tests): real HTTP, answering like the real
services, error codes included, and told to fail, throttle or refuse when wanted.

`siyu demo` and `siyu serve` on a demo server start them in threads on 127.0.0.1 when no real gateway is set up
(none of SIYU_WECHAT_API_BASE, SIYU_WECHAT_OPEN_BASE, SIYU_WECHAT_JS_SDK, SIYU_ALIYUN_SMS_BASE, SIYU_TENCENT_SMS_BASE is
given, the demo tenant keeps the fakes' credentials, and SIYU_FAKE_GATEWAYS is not "off"), and point those settings at
them. Ports: SIYU_FAKE_WECHAT_PORT / SIYU_FAKE_SMS_PORT (default: free ones, printed at start). What they answer:
SIYU_FAKE_WECHAT_MODE / SIYU_FAKE_SMS_MODE at start, `POST <base>/_fake/mode?mode=...` while running.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from siyu.config import Settings
from siyu.demo.gateways import sms, wechat

SWITCH = "SIYU_FAKE_GATEWAYS"
# The settings the fakes take over, by environment variable; one of them given means a real gateway is wanted.
TAKEN_OVER = {
    "SIYU_WECHAT_API_BASE": "wechat_api_base",
    "SIYU_WECHAT_OPEN_BASE": "wechat_open_base",
    "SIYU_WECHAT_JS_SDK": "wechat_js_sdk",
    "SIYU_ALIYUN_SMS_BASE": "aliyun_sms_base",
    "SIYU_TENCENT_SMS_BASE": "tencent_sms_base",
}
# Credentials the fakes accept: what the demo tenant is given while the fakes run.
WECHAT_APP = (wechat.APP_ID, wechat.APP_SECRET)
WECHAT_MINI = (wechat.MINI_ID, wechat.MINI_SECRET)
SMS_KEY = (sms.ALIYUN_KEY, sms.ALIYUN_SECRET)


@dataclass(frozen=True)
class Running:
    wechat: wechat.FakeWechat
    sms: sms.FakeSms
    wechat_base: str
    sms_base: str


def wanted(settings: Settings, environ: dict[str, str] | None = None) -> bool:
    """Whether a demo server should run the fakes: a demo, no gateway address given, not switched off."""
    env = os.environ if environ is None else environ
    if not settings.demo or env.get(SWITCH, "").strip().lower() in ("off", "0", "false", "no"):
        return False
    return not any(env.get(name) for name in TAKEN_OVER)


def real_credentials(wechat_settings: dict[str, Any], notice_settings: dict[str, Any]) -> bool:
    """Whether a tenant's stored settings name WeChat or SMS credentials other than the fakes' own."""
    app_ids = {str(wechat_settings.get("app_id") or ""), str(wechat_settings.get("mini_app_id") or "")}
    sms_key = str((notice_settings.get("sms") or {}).get("access_key_id") or "")
    return bool(app_ids - {"", wechat.APP_ID, wechat.MINI_ID}) or sms_key not in ("", sms.ALIYUN_KEY)


def _mode(name: str, modes: Any) -> str:
    mode = os.environ.get(name, "ok").strip().lower() or "ok"
    if mode not in modes:
        raise ValueError(f"{name} 只能是 {' / '.join(modes)}")
    return mode


def _port(name: str) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else 0


@contextmanager
def started(settings: Settings) -> Iterator[Running]:
    """Run both fakes until the block ends and point `settings` (and this process's environment, for processes it
    starts) at them."""
    wechat_mode, sms_mode = _mode("SIYU_FAKE_WECHAT_MODE", wechat.MODES), _mode("SIYU_FAKE_SMS_MODE", sms.MODES)
    with ExitStack() as stack:
        fake_wechat, wechat_base = stack.enter_context(wechat.serve(_port("SIYU_FAKE_WECHAT_PORT")))
        fake_sms, sms_base = stack.enter_context(sms.serve(_port("SIYU_FAKE_SMS_PORT")))
        fake_wechat.mode, fake_sms.mode = wechat_mode, sms_mode
        addresses = {
            "SIYU_WECHAT_API_BASE": wechat_base,
            "SIYU_WECHAT_OPEN_BASE": wechat_base,
            "SIYU_WECHAT_JS_SDK": wechat_base + wechat.JS_SDK_PATH,
            "SIYU_ALIYUN_SMS_BASE": sms_base,
            "SIYU_TENCENT_SMS_BASE": sms_base,
        }
        before = {name: getattr(settings, field) for name, field in TAKEN_OVER.items()}
        for name, value in addresses.items():
            os.environ[name] = value
            setattr(settings, TAKEN_OVER[name], value)
        try:
            yield Running(fake_wechat, fake_sms, wechat_base, sms_base)
        finally:
            for name, value in before.items():
                os.environ.pop(name, None)
                setattr(settings, TAKEN_OVER[name], value)
