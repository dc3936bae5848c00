"""A fake WeChat served for the module, and the code the logging SMS provider "sent"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from siyu.fans.sms import LoggingSms
from tests.support.fake_wechat import FakeWechat, serve


@pytest.fixture(scope="module")
def wechat() -> Iterator[tuple[FakeWechat, str]]:
    with serve() as running:
        yield running


def sent_code(app: FastAPI, phone: str) -> str:
    sms = app.state.sms
    assert isinstance(sms, LoggingSms)
    return sms.sent[phone]
