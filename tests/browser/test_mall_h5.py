"""The fan's mall and lottery in Chromium at 375 px: she keeps her address book with the province > city > district
picker, sends a parcel elsewhere until it ships (the new address's fields only while "寄到新地址" is chosen, so what
she typed is what is used), sees what stops her before she is asked for an address, finds the lottery's button off
once her draws are used up, and reads 积分抽奖 in her points history. Runs after test_mall.py (the
same demo fan, whose address book may hold 林小鱼 from there)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_SLUG

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]


def no_sideways_scroll(page: Page, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{what} scrolls sideways ({width}px wide)"


def sign_in(fan: Page, path: str) -> None:
    fan.goto(path)
    fan.get_by_role("button", name="以演示会员身份体验").click()


def pick_region(fan: Page, province: str, city: str, district: str) -> None:
    fan.get_by_label("省份").select_option(province)
    fan.get_by_label("城市").select_option(city)
    fan.get_by_label("区县").select_option(district)


def test_a_fan_adds_edits_and_deletes_addresses_with_the_region_picker(
    mobile_page: Page, screenshot: Screenshot
) -> None:
    fan = mobile_page
    sign_in(fan, f"/h5/{DEMO_SLUG}/mall/addresses")
    expect(fan.get_by_role("heading", level=1, name="收货地址")).to_be_visible()
    form = fan.locator("#new-address-form")
    form.get_by_label("收件人").fill("陈桃子")
    form.get_by_label("手机号").fill("13912345678")
    expect(form.get_by_label("城市")).to_be_disabled()  # nothing to pick before the province
    pick_region(fan, "广东省", "深圳市", "南山区")
    form.get_by_label("详细地址").fill("科技园南区 8 栋 1203")
    form.get_by_role("button", name="保存地址").click()
    book = fan.locator("#addresses")
    expect(book).to_contain_text("广东省 深圳市 南山区 科技园南区 8 栋 1203")

    fan.get_by_role("link", name="编辑 陈桃子 的地址").click()
    expect(fan.get_by_role("heading", level=1, name="编辑收货地址")).to_be_visible()
    expect(fan.get_by_label("省份")).to_have_value("广东省")  # her region, picked again for her
    expect(fan.get_by_label("城市")).to_have_value("深圳市")
    expect(fan.get_by_label("区县")).to_have_value("南山区")
    pick_region(fan, "上海市", "上海市", "徐汇区")  # a municipality is its own city
    fan.get_by_label("详细地址").fill("漕溪北路 398 号 7 楼")
    no_sideways_scroll(fan, "editing an address")
    screenshot(fan, "h5-address-edit")
    fan.get_by_role("button", name="保存修改").click()
    expect(book).to_contain_text("上海市 上海市 徐汇区 漕溪北路 398 号 7 楼")
    expect(book).not_to_contain_text("南山区")
    no_sideways_scroll(fan, "the address book")
    screenshot(fan, "h5-addresses")

    fan.once("dialog", lambda dialog: dialog.accept())
    fan.get_by_role("button", name="删除 陈桃子 的地址").click()
    expect(book).not_to_contain_text("陈桃子")


def test_a_fan_sends_a_parcel_elsewhere_before_it_ships(mobile_page: Page, screenshot: Screenshot) -> None:
    fan = mobile_page
    sign_in(fan, f"/h5/{DEMO_SLUG}/mall/addresses")
    form = fan.locator("#new-address-form")
    form.get_by_label("收件人").fill("王柚子")
    form.get_by_label("手机号").fill("15088886666")
    pick_region(fan, "浙江省", "杭州市", "西湖区")
    form.get_by_label("详细地址").fill("文三路 90 号 3 幢 501")
    form.get_by_label("设为默认地址").check()
    form.get_by_role("button", name="保存地址").click()
    expect(fan.locator("#addresses")).to_contain_text("王柚子")
    fan.goto(f"/h5/{DEMO_SLUG}/mall")
    fan.locator("#rewards").get_by_role("link", name=re.compile("每日坚果礼盒")).click()
    fan.get_by_role("link", name="立即兑换").click()
    choice = fan.locator("[data-address-choice]")
    expect(choice.get_by_role("radio", name=re.compile("王柚子"))).to_be_checked()
    # The new address's fields are there only when she chooses to send it somewhere new.
    expect(choice.get_by_label("详细地址")).to_be_hidden()
    choice.get_by_role("radio", name="寄到新地址").check()
    expect(choice.get_by_label("详细地址")).to_be_visible()
    choice.get_by_role("radio", name=re.compile("王柚子")).check()
    expect(choice.get_by_label("详细地址")).to_be_hidden()
    fan.locator("#redeem-submit").click()
    result = fan.locator("#redeem-result")
    expect(result).to_contain_text("文三路 90 号 3 幢 501")
    result.get_by_role("link", name="查看兑换详情").click()

    # Not shipped yet: she may send it elsewhere. What she types is what is used.
    expect(fan.locator("#shipping-address")).to_contain_text("王柚子")
    fan.get_by_text("修改收货地址（发货前都可以改）").click()
    change = fan.locator("#prize-address")
    change.get_by_role("radio", name="寄到新地址").check()
    change.get_by_label("收件人").fill("周星星")
    change.get_by_label("手机号").fill("18611112222")
    pick_region(fan, "北京市", "北京市", "朝阳区")
    change.get_by_label("详细地址").fill("阜通东大街 6 号")
    no_sideways_scroll(fan, "changing the address")
    screenshot(fan, "h5-redemption-change-address")
    change.get_by_role("button", name="确认收货地址").click()
    expect(fan.get_by_role("status")).to_have_text("收货地址已更新，我们会寄到新地址。")
    expect(fan.locator("#shipping-address")).to_contain_text("周星星 18611112222 北京市 北京市 朝阳区 阜通东大街 6 号")
    screenshot(fan, "h5-redemption-address-changed")


def test_a_reward_for_higher_tiers_names_the_tier_and_is_off(mobile_page: Page, screenshot: Screenshot) -> None:
    fan = mobile_page
    sign_in(fan, f"/h5/{DEMO_SLUG}/mall/redemptions")
    fan.goto(f"/h5/{DEMO_SLUG}/mall")
    fan.locator("#rewards").get_by_role("link", name=re.compile("真丝眼罩")).click()
    expect(fan.locator("#reward")).to_contain_text("金卡及以上会员专享")
    expect(fan.locator("#redeem-blocked")).to_contain_text("需要金卡及以上会员")
    expect(fan.get_by_role("button", name="金卡及以上会员专享")).to_be_disabled()
    no_sideways_scroll(fan, "a reward for higher tiers")
    screenshot(fan, "h5-reward-tier-only")


def test_the_lottery_button_is_off_when_no_draws_are_left_and_history_says_draw(
    mobile_page: Page, screenshot: Screenshot
) -> None:
    fan = mobile_page
    sign_in(fan, f"/h5/{DEMO_SLUG}/points")
    fan.goto(f"/h5/{DEMO_SLUG}/lottery")
    fan.locator("#lotteries").get_by_role("link", name=re.compile("直播间幸运大转盘")).click()
    for _ in range(3):  # three a day: whatever is left of them today
        button = fan.locator("#draw-submit")
        if button.is_disabled():
            break
        button.click()
        expect(fan.locator("#draw-result")).to_be_visible()
    expect(fan.locator("#draw-blocked")).to_have_text("每人每天最多抽 3 次，明天再来吧")
    expect(fan.get_by_role("button", name="次数已用完")).to_be_disabled()
    expect(fan.get_by_role("button", name=re.compile("再抽一次"))).to_have_count(0)
    no_sideways_scroll(fan, "the lottery with no draws left")
    screenshot(fan, "h5-lottery-no-draws-left")

    fan.goto(f"/h5/{DEMO_SLUG}/points")
    draw_line = fan.locator("#history [data-kind=spend]", has_text="抽奖 直播间幸运大转盘").first
    expect(draw_line).to_contain_text("积分抽奖")
    expect(draw_line).not_to_contain_text("积分兑换")
    screenshot(fan, "h5-points-history-draws")
