#!/usr/bin/env bash
# Plan a pull request: save the plan (uploaded by the workflow as the artifact the merge
# applies) and post it as the pull request's one mtasts comment, naming the commit.
#
# Environment (beside common.sh's): PR_NUMBER, PR_HEAD_SHA.
# Writes into $MTASTS_OUT: plan.json (the saved plan), plan.md (the comment's plan),
# plan-full.md (the whole plan, never cut), spec.sha256, commit.
# Exit: 0 when a plan was made (with or without changes; step output `changes`), 1 when
# planning failed: the comment then says "plan failed" with mtasts's error lines.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
: "${PR_NUMBER:?PR_NUMBER is not set}"
: "${PR_HEAD_SHA:?PR_HEAD_SHA is not set}"

short="${PR_HEAD_SHA:0:12}"
header="Plan for commit ${short} (workflow run ${GITHUB_RUN_ID:-local})"
rm -f "$MTASTS_OUT/plan.json"

set +e
mtasts plan --format markdown --markdown-header "$header" --detailed-exitcode \
  --out "$MTASTS_OUT/plan.json" >"$MTASTS_OUT/plan.md" 2>"$MTASTS_OUT/plan.err"
code=$?
set -e
cat "$MTASTS_OUT/plan.err" >&2

if [ "$code" -ne 0 ] && [ "$code" -ne 2 ]; then
  {
    echo "$PLAN_MARKER"
    echo "### mtasts: plan failed for commit ${short}"
    echo
    echo "No plan was saved, so nothing from this commit can be applied. mtasts said:"
    echo
    stderr_block "$MTASTS_OUT/plan.err"
    echo
    echo "Fix the spec (\`mtasts validate\` shows every problem with its line) and push again."
    echo "[Workflow run]($(run_url))"
  } >"$MTASTS_OUT/comment.md"
  upsert_comment "$PR_NUMBER" "$MTASTS_OUT/comment.md"
  summary <"$MTASTS_OUT/comment.md"
  output changes unknown
  echo "::error title=mtasts plan failed::see the pull request comment and the log above"
  exit 1
fi

spec_digest >"$MTASTS_OUT/spec.sha256"
echo "$PR_HEAD_SHA" >"$MTASTS_OUT/commit"
# The whole plan for the artifact, where a cut comment sends its readers.
mtasts show "$MTASTS_OUT/plan.json" --format markdown >"$MTASTS_OUT/plan-full.md"
{
  echo "$PLAN_MARKER"
  cat "$MTASTS_OUT/plan.md"
  echo
  echo "<sub>Merging applies exactly this saved plan (artifact \`mtasts-plan\` of [this run]($(run_url))) while the live state still matches it.</sub>"
} >"$MTASTS_OUT/comment.md"
upsert_comment "$PR_NUMBER" "$MTASTS_OUT/comment.md"
summary <"$MTASTS_OUT/plan-full.md"
if [ "$code" -eq 2 ]; then output changes true; else output changes false; fi
