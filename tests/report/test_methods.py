"""The methods text: prose with numbered references, no configuration keys or paths."""

from __future__ import annotations

import re

from netpet_stats.report.document import methods_text


def test_methods_cite_every_reference_in_order_and_show_no_keys(base_config):
    methods = methods_text(base_config)
    text = " ".join(methods["paragraphs"])
    cited = [int(n) for group in re.findall(r"\[([\d, ]+)\]", text) for n in group.split(",")]
    first_use = list(dict.fromkeys(cited))
    assert first_use == list(range(1, len(methods["references"]) + 1))   # numbered by first use
    for key in ("netpet_group", "univariable_", "primary_model", "tests/", ".csv", "_"):
        assert key not in text, key
    assert "synthetic" not in text
    assert "Efron's method" in text and "Kaplan-Meier method [" in text
    assert any(r.startswith("Chan DL, Hayes AR") for r in methods["references"])


def test_methods_follow_the_configuration(base_config):
    import copy

    cfg = copy.deepcopy(base_config)
    cfg["analysis_time_unit"] = "years"
    cfg["endpoints"]["os"]["time_unit"] = "days"
    cfg["kaplan_meier"]["landmarks"] = [1, 2, 5]
    text = " ".join(methods_text(cfg)["paragraphs"])
    assert "overall survival (recorded in days and analysed in years" in text
    assert "Survival is reported at 1, 2, 5 years." in text


def test_the_tie_method_sentence_and_its_reference_follow_cox_ties(base_config):
    import copy

    for ties, phrase, ref in (
            ("efron", "with Efron's method for tied times [", "Efron B."),
            ("breslow", "with Breslow's method for tied times [", "Breslow N."),
            ("exact", "with the exact (conditional logistic) partial likelihood for tied "
                      "times [", "Kalbfleisch JD, Prentice RL.")):
        cfg = copy.deepcopy(base_config)
        cfg["cox"]["ties"] = ties
        methods = methods_text(cfg)
        text = " ".join(methods["paragraphs"])
        assert phrase in text
        cited = [r for r in methods["references"]
                 if r.startswith(("Efron B.", "Breslow N.", "Kalbfleisch JD"))]
        assert cited == [r for r in methods["references"] if r.startswith(ref)]
        assert len(cited) == 1           # only the method used is cited
