#!/bin/bash
# A shell job in a real terminal: top runs in bash in a tmux pane (the
# tmux server is outside the tree), `cr dump -j` from outside takes it,
# and `cr restore -j` typed at that bash's prompt brings it back into the
# restoring shell's terminal, in the foreground, in the raw mode top had
# set: it redraws, answers 'h' with its help screen at once, and 'q' gives
# the prompt back; a python3 job that set raw mode once reads single keys
# after restore, the terminal having been reset meanwhile.  Needs root,
# tmux, python3.
#   CR=path/to/cr bash t/tty-tmux.sh
# Prints "PASS/FAIL tty-tmux" and "N passed, N failed".

set -u
here=$(cd "$(dirname "$0")" && pwd)
CR=$(realpath "${CR:-$here/../cr}")
tmp=$(mktemp -d /tmp/cr-tty-tmux.XXXXXX)
T="tmux -S $tmp/sock"

cleanup() {
	$T kill-server 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

result() {
	echo "$1 tty-tmux${2:+: $2}"
	[ "$1" = PASS ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
	[ "$1" = PASS ]
	exit
}

# wait_screen REGEX: until the pane shows it (10 s)
wait_screen() {
	for _ in $(seq 100); do
		$T capture-pane -p | grep -q -- "$1" && return 0
		sleep 0.1
	done
	result FAIL "no \"$1\" in the pane: $($T capture-pane -p | grep . | tail -3 | tr '\n' '|')"
}

command -v tmux >/dev/null || result FAIL "no tmux (Debian package tmux)"
$T new-session -d -x 100 -y 30 \
	"env -i TERM=xterm HOME=/ PATH=/usr/bin:/bin PS1='prompt\$ ' bash --norc --noprofile -i" ||
	result FAIL "tmux new-session"
wait_screen 'prompt\$'
# job CMD NAME READY: run CMD at the prompt, wait for READY, dump the job
# (NAME, the pane shell's child) from outside, reset the terminal's modes,
# restore it from the prompt, wait until it runs again
job() {
	$T send-keys "$1" Enter
	wait_screen "$3"
	sh=$($T display -p '#{pane_pid}')
	pid=$(pgrep -P "$sh" -x "$2") || result FAIL "no $2 under the pane's bash"
	"$CR" dump -j -t "$pid" -D "$tmp" 2>"$tmp/dump.err" ||
		result FAIL "cr dump $2: $(cat "$tmp/dump.err")"
	$T send-keys 'stty sane; clear' Enter	# the job's modes are gone
	wait_screen '^prompt\$$'
	$T send-keys "$CR restore -j -D $tmp 2>$tmp/restore.err; echo restore-status-\$?" Enter
	for _ in $(seq 100); do
		[ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$2" ] &&
			! grep -q TracerPid:.[1-9] /proc/"$pid"/status && return
		sleep 0.1
	done
	result FAIL "$2 is not back as pid $pid: $(cat "$tmp/restore.err")"
}

# top redraws, and takes single keys (it sets raw mode again on SIGCONT)
job 'top -d 0.5' top 'load average'
wait_screen 'load average'
$T send-keys h
wait_screen 'Help for Interactive Commands'
$T send-keys q
wait_screen 'load average'
$T send-keys q
wait_screen 'restore-status-0'

# a program that set raw mode once gets it back: single keys, no echo
cat > "$tmp/keys.py" <<'PY'
import os, tty
tty.setraw(0)
os.write(1, b"raw-ready\r\n")
for _ in range(2):
    os.write(1, b"key-" + os.read(0, 1) + b"\r\n")
PY
$T send-keys 'clear' Enter
job "python3 $tmp/keys.py" python3 'raw-ready'
$T send-keys h
wait_screen 'key-h'
$T send-keys q
wait_screen 'restore-status-0'
result PASS
