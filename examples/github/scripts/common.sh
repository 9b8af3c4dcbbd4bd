# shellcheck shell=bash
# Shared by the mtasts workflow's scripts (sourced, not run). Every script reads its inputs
# from the environment the workflow sets (never from ${{ }} pasted into shell), so a branch
# name or a pull request title can never become a command.
#
# Environment: GITHUB_REPOSITORY, GITHUB_SHA, GITHUB_RUN_ID, GITHUB_SERVER_URL (set by the
# runner), GH_TOKEN (for gh), MTASTS_CONFIG (the spec), MTASTS_OUT (work directory),
# GITHUB_STEP_SUMMARY and GITHUB_OUTPUT (optional outside Actions).

MTASTS_OUT="${MTASTS_OUT:-mtasts-out}"
MTASTS_CONFIG="${MTASTS_CONFIG:-mtasts.yaml}"
MTASTS_BOT="${MTASTS_BOT:-github-actions[bot]}"
PLAN_MARKER="<!-- mtasts-plan -->"
# shellcheck disable=SC2034 # used by drift.sh
DRIFT_MARKER="<!-- mtasts-drift -->"
SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GHJSON=(python3 "$SCRIPTS_DIR/ghjson.py")
export MTASTS_CONFIG

: "${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is not set (owner/name)}"
: "${GITHUB_SHA:?GITHUB_SHA is not set}"

mkdir -p "$MTASTS_OUT"

run_url() {
  echo "${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID:-0}"
}

# Append stdin to the job's summary page (a no-op outside Actions).
summary() {
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat >>"$GITHUB_STEP_SUMMARY"; else cat >/dev/null; fi
}

# output NAME VALUE: a step output (a no-op outside Actions).
output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$1=$2" >>"$GITHUB_OUTPUT"; fi
}

# The spec's SHA-256: a saved plan is applied only to the spec it was made from.
spec_digest() {
  sha256sum "$MTASTS_CONFIG" | cut -d' ' -f1
}

# stderr_block FILE: the end of mtasts's stderr as a Markdown code block. mtasts already
# scrubs credentials from its messages; backtick fences inside are broken up so the text
# stays inside the block, and long lines are cut.
stderr_block() {
  echo '```text'
  tail -n 40 "$1" | cut -c1-400 | sed "s/\`\`\`/'''/g"
  echo '```'
}

# upsert_comment PR BODY_FILE: create the pull request's mtasts comment, or update it in
# place. It is found by the marker on its first line AND by its author (the workflow's bot),
# so a human comment that quotes the marker is never touched.
upsert_comment() {
  local pr="$1" file="$2" id
  id="$(gh api --paginate --slurp "repos/$GITHUB_REPOSITORY/issues/$pr/comments?per_page=100" |
    "${GHJSON[@]}" find-comment "$PLAN_MARKER" "$MTASTS_BOT")"
  if [ -n "$id" ]; then
    "${GHJSON[@]}" body "$file" |
      gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$id" --input - >/dev/null
    echo "updated the mtasts comment on #$pr"
  else
    "${GHJSON[@]}" body "$file" |
      gh api --method POST "repos/$GITHUB_REPOSITORY/issues/$pr/comments" --input - >/dev/null
    echo "posted the mtasts comment on #$pr"
  fi
}
