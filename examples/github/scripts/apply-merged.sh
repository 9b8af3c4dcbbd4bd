#!/usr/bin/env bash
# On a push to main: apply the plan that was reviewed on the merged pull request, while it
# is still fresh (Terraform's saved-plan workflow).
#
#   1. find the pull request merged as $GITHUB_SHA, and the successful run of this workflow
#      on its head commit; download that run's `mtasts-plan` artifact;
#   2. refuse it when the spec here differs from the spec it was planned from;
#   3. `mtasts apply PLANFILE`: mtasts refuses a stale plan (the live state moved since) and
#      a plan holding a risk not allowed (--allow-risk) or too many removals (--allow-destroy).
# When there is no reviewed plan, or it is stale, the job plans again and STOPS (exit 1)
# with the new plan in the run's summary: someone reviews it and runs the workflow by hand
# (workflow_dispatch, apply). Nothing unreviewed is ever applied here.
#
# Environment (beside common.sh's): MTASTS_WORKFLOW (this workflow's file name).
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
: "${MTASTS_WORKFLOW:?MTASTS_WORKFLOW is not set (the workflow file name, e.g. mtasts.yml)}"

reviewed="$MTASTS_OUT/reviewed"
rm -rf "$reviewed"

# replan_and_stop REASON: plan again; stop for review when that plan has changes.
replan_and_stop() {
  local reason="$1" code
  echo "mtasts: $reason" >&2
  set +e
  mtasts plan --format markdown --detailed-exitcode \
    --markdown-header "Plan for commit ${GITHUB_SHA:0:12} after merge (not applied)" \
    >"$MTASTS_OUT/replan.md" 2>"$MTASTS_OUT/replan.err"
  code=$?
  set -e
  cat "$MTASTS_OUT/replan.err" >&2
  if [ "$code" -eq 0 ]; then
    echo "mtasts: the live state already matches the spec; nothing to apply." >&2
    printf '### mtasts: nothing to apply\n\n%s; the live state already matches the spec.\n' \
      "$reason" | summary
    return 0
  fi
  if [ "$code" -eq 2 ]; then
    {
      echo "### mtasts: review needed, nothing was applied"
      echo
      echo "$reason. The plan below was made just now and has NOT been applied. Review it,"
      echo "then apply it from Actions > ${MTASTS_WORKFLOW} > Run workflow (apply)."
      echo
      cat "$MTASTS_OUT/replan.md"
    } | summary
    echo "::error title=mtasts: review needed::${reason}. Nothing was applied: review the new plan in this run's summary, then run the workflow by hand with 'apply'."
    return 1
  fi
  echo "::error title=mtasts plan failed::${reason}, and planning again failed (see the log)."
  return 1
}

pr="$(gh api "repos/$GITHUB_REPOSITORY/commits/$GITHUB_SHA/pulls" | "${GHJSON[@]}" merged-pr "$GITHUB_SHA")"
if [ -z "$pr" ]; then
  replan_and_stop "commit ${GITHUB_SHA:0:12} was not merged from a pull request, so no plan was reviewed"
  exit $?
fi
number="${pr%% *}"
head_sha="${pr##* }"
run="$(gh run list --workflow "$MTASTS_WORKFLOW" --event pull_request --commit "$head_sha" \
  --status success --limit 1 --json databaseId | "${GHJSON[@]}" first-run)"
if [ -z "$run" ] || ! gh run download "$run" --name mtasts-plan --dir "$reviewed" ||
  [ ! -f "$reviewed/plan.json" ]; then
  replan_and_stop "no reviewed plan was found for pull request #$number (commit ${head_sha:0:12})"
  exit $?
fi
if [ "$(cat "$reviewed/spec.sha256" 2>/dev/null)" != "$(spec_digest)" ]; then
  replan_and_stop "the spec at ${GITHUB_SHA:0:12} differs from the one reviewed on #$number (main moved since)"
  exit $?
fi

mtasts show "$reviewed/plan.json" --format markdown | summary
set +e
mtasts apply "$reviewed/plan.json" --auto-approve 2>"$MTASTS_OUT/apply.err"
code=$?
set -e
cat "$MTASTS_OUT/apply.err" >&2
if [ "$code" -eq 0 ]; then
  printf '### mtasts: applied the plan reviewed on #%s\n' "$number" | summary
  exit 0
fi
if grep -q "saved plan is stale" "$MTASTS_OUT/apply.err"; then
  replan_and_stop "the plan reviewed on #$number is stale: the live state changed since it was made"
  exit $?
fi
{
  echo "### mtasts: apply refused or failed"
  echo
  stderr_block "$MTASTS_OUT/apply.err"
  echo
  echo "A plan holding a risk (blocks-mail) or many removals is applied only by hand:"
  echo "Actions > ${MTASTS_WORKFLOW} > Run workflow, with allow_risk / allow_destroy."
} | summary
exit 1
