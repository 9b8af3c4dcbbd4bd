#!/usr/bin/env bash
# A pull request from a fork gets no cloud credentials (GitHub gives forks none, and this
# workflow never runs a fork's code with any), so it gets this comment instead of a plan
# and instead of a red check. Runs from the base branch's copy of this script
# (pull_request_target): nothing from the fork is checked out or executed.
#
# Environment (beside common.sh's): PR_NUMBER, PR_HEAD_SHA.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
: "${PR_NUMBER:?PR_NUMBER is not set}"
: "${PR_HEAD_SHA:?PR_HEAD_SHA is not set}"

{
  echo "$PLAN_MARKER"
  echo "### mtasts: plan not run: no credentials for forks"
  echo
  echo "Commit ${PR_HEAD_SHA:0:12} comes from a fork. Pull requests from forks get no cloud"
  echo "credentials, so mtasts could not read the live state to plan this change."
  echo
  echo "A maintainer can push this branch to the repository itself (or reopen the change"
  echo "from a branch there) to get a plan; the merge applies only a reviewed plan."
} >"$MTASTS_OUT/comment.md"
upsert_comment "$PR_NUMBER" "$MTASTS_OUT/comment.md"
summary <"$MTASTS_OUT/comment.md"
