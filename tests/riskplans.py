"""Plans holding every risk class, built with the planner itself (`provisioner.plan.diff`).

`mixed_plan` is what a reviewer of a real rollout sees: one domain whose enforce blocks mail
to a live MX, one downgrade, one retiring, one newly enforced, and routine domains.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from provisioner.plan import Plan, diff
from provisioner.rfc8461 import Mode, Policy, policy_id, render_sts_record
from provisioner.state import DesiredDomain, LiveDomain

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
RUA = "v=TLSRPTv1; rua=mailto:tlsrpt@example.net"


def desired(
    domain: str,
    mode: Mode = Mode.TESTING,
    max_age: int = 86400,
    mx: tuple[str, ...] | None = None,
    provider: str = "local",
) -> DesiredDomain:
    policy = Policy(mode, max_age, mx or (f"mx.{domain}",))
    return DesiredDomain(domain, provider, policy, policy.render(), RUA)


def live(
    want: DesiredDomain,
    mode: Mode | None = None,
    max_age: int | None = None,
    mx_hosts: tuple[str, ...] | None = None,
    published: datetime | None = None,
) -> LiveDomain:
    """What a provider reports with `want`'s policy live (or the same with another mode)."""
    policy = Policy(mode or want.policy.mode, max_age or want.policy.max_age, want.policy.mx)
    body = policy.render()
    at = published or NOW - timedelta(days=1)
    return LiveDomain(
        want.domain,
        policy_text=body,
        policy_published_at=at,
        sts_txt=(render_sts_record(policy_id(body, at)),),
        tlsrpt_txt=(RUA,),
        mx_hosts=mx_hosts,
    )


def mixed_plan(routine: int = 3) -> Plan:
    """blocks.example blocks mail, down.example downgrades, gone.example retires (step 1),
    new-enforce.example is newly enforced, and `routine` domains change max_age only."""
    wants = {
        "blocks.example": desired("blocks.example", Mode.ENFORCE),
        "down.example": desired("down.example", Mode.TESTING),
        "new-enforce.example": desired("new-enforce.example", Mode.ENFORCE),
    }
    lives = {
        "blocks.example": live(
            wants["blocks.example"],
            Mode.TESTING,
            mx_hosts=("mx.blocks.example", "backup.mail-host.example"),
        ),
        "down.example": live(wants["down.example"], Mode.ENFORCE),
        "new-enforce.example": live(wants["new-enforce.example"], Mode.TESTING),
        "gone.example": live(desired("gone.example", Mode.ENFORCE)),
    }
    for i in range(routine):
        name = f"r{i:04d}.example"
        wants[name] = desired(name, max_age=604800)
        lives[name] = live(wants[name], max_age=86400)
    return diff(wants, lives, NOW, removals={"gone.example": "local"})
