"""The fake SMS gateway lives in the product (the demo runs it too); the tests import it from here as before."""

from siyu.demo.gateways.sms import ALIYUN_KEY, ALIYUN_SECRET, TENCENT_APP, TENCENT_ID, TENCENT_KEY, FakeSms, serve

__all__ = ["ALIYUN_KEY", "ALIYUN_SECRET", "TENCENT_APP", "TENCENT_ID", "TENCENT_KEY", "FakeSms", "serve"]
