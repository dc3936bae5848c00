"""Near-duplicate wishes: the same product written with other widths, cases, punctuation or spaces is one group;
different products are not; a survey's answers are checked per kind of question."""

from __future__ import annotations

import pytest

from siyu.voice import rules


def test_normalising_folds_width_case_punctuation_and_spaces() -> None:
    assert rules.normalise("ＳＫ－ＩＩ 神仙水！") == rules.normalise("sk-ii神仙水") == "sk2神仙水"
    assert rules.normalise("  Dyson  吹风机 (HD15) ") == "dyson吹风机hd15"


def test_alike_names_score_high_and_different_products_low() -> None:
    assert rules.similarity("兰蔻小黑瓶", "兰蔻 小黑瓶") == 1.0
    assert rules.similarity("兰蔻小黑瓶", "兰蔻小黑瓶精华 50ml") >= rules.SIMILAR
    assert rules.similarity("兰蔻小黑瓶", "雅诗兰黛小棕瓶") < rules.SIMILAR
    assert rules.similarity("", "") == 0.0


def test_wishes_written_differently_are_grouped_as_one_product() -> None:
    names = [
        "SK-II 神仙水",  # 0
        "兰蔻小黑瓶",  # 1
        "sk2神仙水",  # 2
        "ＳＫ－ＩＩ　神仙水 230ml",  # 3
        "兰蔻 小黑瓶 精华",  # 4
        "雅诗兰黛小棕瓶",  # 5
        "羊绒围巾",  # 6
        "羊绒 围巾（驼色）",  # 7
        "口红",  # 8
        "口红",  # 9: the very same words
    ]
    assert rules.group(names) == [[0, 2, 3], [1, 4], [5], [6, 7], [8, 9]]


def test_a_single_name_and_no_names_group_trivially() -> None:
    assert rules.group([]) == []
    assert rules.group(["围"]) == [[0]]
    assert rules.group(["围", "围"]) == [[0, 1]]


QUESTIONS = [
    {"text": "喜欢", "kind": "single", "options": ["护肤", "彩妆"]},
    {"text": "时间", "kind": "multiple", "options": ["中午", "晚上", "深夜"]},
    {"text": "打分", "kind": "rating", "options": []},
    {"text": "想说", "kind": "text", "options": []},
]


def test_answers_of_every_kind_are_kept_in_their_form() -> None:
    kept = rules.check_answers(QUESTIONS, {"1": "护肤", "2": ["深夜", "中午"], "3": "4", "4": " 多讲成分 "})
    assert kept == {"1": "护肤", "2": ["中午", "深夜"], "3": 4, "4": "多讲成分"}
    assert [rules.answer_text(v) for v in kept.values()] == ["护肤", "中午、深夜", "4 分", "多讲成分"]


@pytest.mark.parametrize(
    ("answers", "words"),
    [
        ({"1": "", "2": ["中午"], "3": "4", "4": "好"}, "请回答第 1 题"),
        ({"1": "香水", "2": ["中午"], "3": "4", "4": "好"}, "第 1 题请从选项中选择"),
        ({"1": "护肤", "2": [], "3": "4", "4": "好"}, "请回答第 2 题"),
        ({"1": "护肤", "2": ["早上"], "3": "4", "4": "好"}, "第 2 题请从选项中选择"),
        ({"1": "护肤", "2": ["中午"], "3": "6", "4": "好"}, "第 3 题请打 1 到 5 分"),
        ({"1": "护肤", "2": ["中午"], "3": "4", "4": "长" * 201}, "第 4 题的回答不能超过 200 字"),
    ],
)
def test_answers_that_do_not_fit_are_refused_in_words(answers: dict[str, object], words: str) -> None:
    with pytest.raises(rules.BadAnswers) as refused:
        rules.check_answers(QUESTIONS, answers)
    assert refused.value.message == words
