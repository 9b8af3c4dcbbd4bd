#!/usr/bin/env bash
# The daily plan (schedule): notices what is due or has moved while nobody opened a pull
# request: a retired domain's removal step 2 once its max_age has passed (RFC 8461 section
# 8.3), and drift (a record or policy changed outside mtasts).
#
# With changes it opens the repository's one mtasts drift issue, or updates it (found by
# its marker AND its author, the workflow's bot), and exits 2 so the scheduled check fails.
# With no changes it closes that issue if open, and exits 0. A failed plan exits 1.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

set +e
mtasts plan --format markdown --detailed-exitcode \
  --markdown-header "Daily plan for commit ${GITHUB_SHA:0:12} (workflow run ${GITHUB_RUN_ID:-local})" \
  >"$MTASTS_OUT/drift.md" 2>"$MTASTS_OUT/drift.err"
code=$?
set -e
cat "$MTASTS_OUT/drift.err" >&2
if [ "$code" -ne 0 ] && [ "$code" -ne 2 ]; then
  echo "::error title=mtasts daily plan failed::see the log above"
  exit 1
fi

issue="$(gh api --paginate --slurp "repos/$GITHUB_REPOSITORY/issues?state=open&per_page=100" |
  "${GHJSON[@]}" find-issue "$DRIFT_MARKER" "$MTASTS_BOT")"

if [ "$code" -eq 0 ]; then
  echo "mtasts: the live state matches the spec." >&2
  if [ -n "$issue" ]; then
    printf '%s\nThe live state matches the spec again (commit %s, [workflow run](%s)).\n' \
      "$DRIFT_MARKER" "${GITHUB_SHA:0:12}" "$(run_url)" >"$MTASTS_OUT/closing.md"
    "${GHJSON[@]}" body "$MTASTS_OUT/closing.md" state=closed |
      gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/$issue" --input - >/dev/null
    echo "closed the mtasts drift issue #$issue" >&2
  fi
  exit 0
fi

{
  echo "$DRIFT_MARKER"
  echo "The daily \`mtasts plan\` found changes to make: a retired domain's removal step that"
  echo "is now due, or live state that moved outside mtasts. Nothing was applied. Open a pull"
  echo "request to review them, or apply by hand (Actions > Run workflow, apply)."
  echo
  cat "$MTASTS_OUT/drift.md"
} >"$MTASTS_OUT/issue.md"
summary <"$MTASTS_OUT/issue.md"
if [ -n "$issue" ]; then
  "${GHJSON[@]}" body "$MTASTS_OUT/issue.md" |
    gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/$issue" --input - >/dev/null
  echo "updated the mtasts drift issue #$issue" >&2
else
  "${GHJSON[@]}" body "$MTASTS_OUT/issue.md" "title=mtasts: the live state differs from the spec" |
    gh api --method POST "repos/$GITHUB_REPOSITORY/issues" --input - >/dev/null
  echo "opened an mtasts drift issue" >&2
fi
echo "::error title=mtasts: changes pending::the live state differs from the spec (see the issue)"
exit 2
