"""The fake WeChat lives in the product (the demo runs it too); the tests import it from here as before."""

from siyu.demo.gateways.wechat import APP_ID, APP_SECRET, ERRCODES, MINI_ID, MINI_SECRET, FakeWechat, free_port, serve

__all__ = ["APP_ID", "APP_SECRET", "ERRCODES", "MINI_ID", "MINI_SECRET", "FakeWechat", "free_port", "serve"]
