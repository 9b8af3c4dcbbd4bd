"""The grouping model (providers/aws/grouping.py): packing, stability and identity."""

from __future__ import annotations

import pytest

from providers.aws.grouping import applies_remaining, assign, changes, check_size, group_of


def hosts(n: int, start: int = 0) -> list[str]:
    return [f"mta-sts.d{i:03d}.example" for i in range(start, start + n)]


def test_35_hosts_make_4_groups_of_at_most_10():
    groups = assign({}, hosts(35), (), 10)
    assert sorted(groups) == [1, 2, 3, 4]
    assert [len(g) for g in groups.values()] == [10, 10, 10, 5]
    assert set().union(*groups.values()) == set(hosts(35))


def test_assignment_does_not_depend_on_the_order_hosts_come_in():
    assert assign({}, hosts(35), (), 10) == assign({}, list(reversed(hosts(35))), (), 10)


def test_adding_one_host_changes_exactly_one_group_and_moves_no_one():
    before = assign({}, hosts(35), (), 10)
    after = assign(before, [*hosts(35), "mta-sts.new.example"], (), 10)
    [change] = changes(before, after)
    assert change.number == 4 and change.joining == {"mta-sts.new.example"}
    assert all(before[n] <= after[n] for n in before)


def test_a_host_joining_when_every_group_is_full_opens_a_new_group():
    before = assign({}, hosts(30), (), 10)
    after = assign(before, ["mta-sts.new.example"], (), 10)
    [change] = changes(before, after)
    assert change.number == 4 and change.before == frozenset()
    assert "new distribution" in change.story()


def test_removing_one_host_changes_exactly_one_group_and_the_hole_is_refilled_first():
    before = assign({}, hosts(35), (), 10)
    gone = sorted(before[2])[3]
    after = assign(before, (), [gone], 10)
    [change] = changes(before, after)
    assert change.number == 2 and change.leaving == {gone}
    again = assign(after, ["mta-sts.zzz.example"], (), 10)
    assert group_of(again, "mta-sts.zzz.example") == 2


def test_an_emptied_group_is_deleted_and_its_number_reused():
    before = assign({}, hosts(25), (), 10)
    after = assign(before, (), before[2], 10)
    assert sorted(after) == [1, 3]
    [change] = changes(before, after)
    assert "deleted" in change.story()
    assert group_of(assign(after, hosts(11, 100), (), 10), "mta-sts.d100.example") == 3


def test_a_group_larger_than_a_lowered_size_keeps_its_hosts_and_takes_no_more():
    before = assign({}, hosts(10), (), 10)
    after = assign(before, ["mta-sts.new.example"], (), 5)
    assert after[1] == before[1] and group_of(after, "mta-sts.new.example") == 2


def test_the_story_speaks_of_hosts_and_certificates():
    before = assign({}, hosts(9), (), 10)
    after = assign(before, ["mta-sts.new.example"], (), 10)
    [change] = changes(before, after)
    assert change.story() == "group 1: 1 host joins (certificate re-issued for 10 hosts)"


@pytest.mark.parametrize("size", [0, -1, 101, 10**9])
def test_a_group_size_outside_acm_quotas_is_refused(size: int):
    with pytest.raises(ValueError, match=r"1\.\.100"):
        check_size(size)
    with pytest.raises(ValueError):
        assign({}, hosts(3), (), size)


def test_applies_remaining_rounds_up():
    assert [applies_remaining(n, 20) for n in (0, 1, 20, 21, 45)] == [0, 1, 1, 2, 3]
