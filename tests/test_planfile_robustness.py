"""Whatever a plan file holds, `load_plan` returns a plan or a one-line MtastsError."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner.errors import MtastsError
from provisioner.planfile import load_plan

values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=15,
)
changes = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "domain": values,
            "provider": values,
            "resource": st.one_of(values, st.sampled_from(["policy", "sts_record", "endpoint"])),
            "action": st.one_of(values, st.sampled_from(["create", "update", "delete"])),
            "before": values,
            "after": values,
            "rrset_after": values,
        },
    ),
    max_size=3,
)
plans = st.fixed_dictionaries(
    {"format_version": st.one_of(st.just(1), values), "fingerprints": values},
    optional={
        "changes": st.one_of(changes, values),
        "providers": values,
        "scope": values,
        "summary": values,
        "domains": values,
    },
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plans)
def test_any_plan_file_loads_or_fails_in_one_line(tmp_path: Path, document):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    try:
        load_plan(path)
    except MtastsError as error:
        assert str(path) in str(error)
        assert "\n" not in str(error)
