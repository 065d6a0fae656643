#!/bin/sh
# The scheduled job every recipe runs (cron, systemd, GitHub Actions, Azure Pipelines):
# make 7pace equal to the latest export, keep the evidence, tell somebody when it failed.
# See docs/recipes.md. Settings come from the environment; the defaults suit a job
# directory laid out as
#   JOB_DIR/timetracker-sync.sh   this script
#   JOB_DIR/mapping.yaml          the export's mapping (lookup files beside it)
#   JOB_DIR/exports/hours.csv     the export to sync
#   JOB_DIR/state/                runs and the sync ledger (keep it between runs)
#   JOB_DIR/reports/              one HTML and one JSON report per day
#
#   TIMETRACKER_URL or TIMETRACKER_PROFILE   the 7pace server
#   TIMETRACKER_TOKEN_FILE   a file holding the token (chmod 600); else TIMETRACKER_TOKEN
#   TIMETRACKER_STATE_DIR    default JOB_DIR/state
#   TIMETRACKER_NOTIFY_URL   a Slack or Teams webhook told about failures (optional)
#   SYNC_FILE, SYNC_MAPPING, SYNC_TIMEZONE, SYNC_SOURCE, SYNC_DAYS   what to sync
#                            (defaults below): the feed's name and the days it is about
# Extra arguments are passed on to `timetracker-import sync`.
set -eu

# cron and systemd start jobs in another directory: everything below is relative to the job's
cd "${JOB_DIR:-$(dirname "$0")}"
export TIMETRACKER_STATE_DIR="${TIMETRACKER_STATE_DIR:-$PWD/state}"
mkdir -p reports "$TIMETRACKER_STATE_DIR"
day=$(date +%F)

if [ -n "${TIMETRACKER_TOKEN_FILE:-}" ]; then
    set -- --token-file "$TIMETRACKER_TOKEN_FILE" "$@"   # never the token itself
fi

# old runs nothing needs any more (unfinished and undoable runs are kept)
timetracker-import runs prune --older-than 30d >> reports/prune.log 2>&1 || true

# exit code: 0 in step, 1 rows rejected, in conflict or stopped by the deletion guard (a
# truncated export), 2 input/mapping, 3 token, 75 retry later. Deletes stay inside the
# declared period (the last SYNC_DAYS days) and touch only this source's worklogs.
exec timetracker-import sync "${SYNC_FILE:-exports/hours.csv}" \
    --mapping "${SYNC_MAPPING:-mapping.yaml}" \
    --timezone "${SYNC_TIMEZONE:-Europe/Berlin}" \
    --source "${SYNC_SOURCE:-payroll}" \
    --prune --window "last:${SYNC_DAYS:-14}d" \
    --yes --wait 600 \
    --report "reports/sync-$day.html" --json "$@" > "reports/sync-$day.json"
