#!/usr/bin/env bash
# Run by hand (workflow_dispatch): plan main's spec, show the plan in the run's summary, and
# apply exactly that saved plan when asked. The escape hatch for what the merge job stops
# on: a stale reviewed plan, a plan that retires or downgrades many domains (allow_destroy)
# or one that would block mail (allow_risk: blocks-mail).
#
# Environment (beside common.sh's): APPLY (true|false), ALLOW_DESTROY (true|false),
# ALLOW_RISK (risk classes, comma separated, e.g. blocks-mail; empty for none).
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

flags=(--auto-approve)
case "${ALLOW_DESTROY:-false}" in
  true) flags+=(--allow-destroy) ;;
  false | "") ;;
  *) echo "::error::allow_destroy must be true or false" && exit 1 ;;
esac
risks="${ALLOW_RISK:-}"
if [ -n "$risks" ]; then
  if ! [[ "$risks" =~ ^[a-z][a-z-]{0,30}(,[a-z][a-z-]{0,30}){0,9}$ ]]; then
    echo "::error::allow_risk: risk class names separated by commas, e.g. blocks-mail" && exit 1
  fi
  IFS=, read -r -a classes <<<"$risks"
  for class in "${classes[@]}"; do flags+=(--allow-risk "$class"); done
fi

set +e
mtasts plan --format markdown --detailed-exitcode --out "$MTASTS_OUT/plan.json" \
  --markdown-header "Plan for commit ${GITHUB_SHA:0:12} (run by hand)" \
  >"$MTASTS_OUT/plan.md" 2>"$MTASTS_OUT/plan.err"
code=$?
set -e
cat "$MTASTS_OUT/plan.err" >&2
case "$code" in
  0)
    echo "mtasts: no changes; nothing to apply." >&2
    mtasts show "$MTASTS_OUT/plan.json" --format markdown | summary
    exit 0
    ;;
  2) mtasts show "$MTASTS_OUT/plan.json" --format markdown | summary ;;
  *)
    echo "::error title=mtasts plan failed::see the log above"
    exit 1
    ;;
esac
if [ "${APPLY:-false}" != "true" ]; then
  echo "mtasts: plan only (run again with 'apply' to apply it)." >&2
  exit 0
fi
mtasts apply "$MTASTS_OUT/plan.json" "${flags[@]}"
