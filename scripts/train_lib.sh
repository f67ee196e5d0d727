# Shell helpers shared by scripts/train_models.sh and scripts/train_networks.sh (sourced, not run).
# They expect RUNS (the runs folder) and PY (the Python interpreter) to be set; PRINT=1 prints the
# commands instead of running them.

step() {  # runs (or prints) one command; a failure stops the script
  if [ "${PRINT:-0}" = 1 ]; then echo "$*"; else echo "$(date -Is) $*" >&2; "$@"; fi
}
train() { local name=$1; shift; step "$PY" -m trainer train --run-dir "$RUNS/$name" "$@"; }
PIDS=()
bg() {  # starts a training run beside the others (in the foreground when printing)
  if [ "${PRINT:-0}" = 1 ]; then train "$@"; else train "$@" & PIDS+=($!); fi
}
join() {  # waits for the runs started by bg; any failure stops the script
  local pid
  for pid in "${PIDS[@]}"; do wait "$pid"; done
  PIDS=()
}
export_model() {  # run name, model name, extra export arguments
  local run=$1 name=$2; shift 2
  # --force: these scripts regenerate the shipped models on purpose (export refuses to overwrite otherwise)
  step "$PY" -m trainer export --force --run-dir "$RUNS/$run" --name "$name" "$@"
}
