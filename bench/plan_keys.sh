#!/bin/sh
# Opens `sbtop demo`'s deploy window by its keys, in the tmux pane it runs in (tui-cost's), so
# the console's cost is measured with the plan showing:
#
#   plan_keys.sh MODE sbtop demo --state-dir DIR
#
# MODE main: nothing pressed (the header's line says the pre-flight is open); watch: phase 1
# started (the demo's eight items open, so with a typed override) and its minute watched with
# the Plan view closed again (the header's line counts down); plan: the same, the Plan view left
# open (its countdown and criteria each second). The keys go once the header shows the plan's
# line, in the first seconds, before a warm-up of 5 s ends; then this helper is gone.
mode=$1
shift
send() { tmux send-keys -t "$TMUX_PANE" "$@"; }
if [ "$mode" != main ]; then (
    i=0
    until tmux capture-pane -p -t "$TMUX_PANE" | grep -q 'PRE-FLIGHT'; do
        sleep 0.2
        i=$((i + 1))
        [ "$i" -gt 150 ] && exit 1
    done
    send p
    sleep 0.4
    for _ in 1 2 3 4 5 6 7 8; do send j; done
    sleep 0.3
    send s
    sleep 0.5
    send -l "cost run: items open"
    send Enter
    sleep 0.5
    [ "$mode" = watch ] && send Escape
) & fi
exec "$@"
