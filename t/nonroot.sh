#!/bin/bash
# cr run by an unprivileged user (nobody, via setpriv) on a process of its
# own (t/bin/counter.musl, also run as nobody):
#   - without CAP_CHECKPOINT_RESTORE, dump and restore are refused with one
#     line naming the capability, before anything is created: the target
#     runs on, no image file, no process;
#   - with that capability as an ambient capability, dump and restore work,
#     and the restored process has the target's capabilities (none), not
#     cr's, and its uid, and finishes its own check (PASS);
#   - an image edited to claim uid 0, or capabilities cr lacks, is refused
#     (checksum made right again, so only the restore's checks stop it),
#     and no process is left.
# Needs root (to become nobody), setpriv (util-linux) and python3 (t/forge.py).
#   CR=path/to/cr bash t/nonroot.sh
# Prints "PASS/FAIL nonroot.CASE" lines and "N passed, N failed".

T_NAME=nonroot
. "$(dirname "$0")/shlib.sh"
chmod 755 "$tmp"

# as nobody, with fds 3 and up closed; CAP=1: with CAP_CHECKPOINT_RESTORE
as_nobody() {
	local caps=()
	if [ "$CAP" = 1 ]; then
		caps=(--inh-caps +checkpoint_restore --ambient-caps +checkpoint_restore)
	fi
	setpriv --reuid nobody --regid nogroup --clear-groups "${caps[@]}" \
		bash -c 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; cd "$0" && exec "$@"' \
		"$tmp" "$@"
}

# the error output must be one line that contains $2
one_line() {
	local n
	n=$(wc -l < "$tmp/err")
	[ "$n" = 1 ] && grep -q -- "$2" "$tmp/err" ||
		{ bad "$1" "want one line with \"$2\", got: $(head -c 300 "$tmp/err")"; return 1; }
}

cp "$CR" "$tmp/cr"
cp "$here/bin/counter.musl" "$tmp/counter"
chmod 755 "$tmp/cr" "$tmp/counter"
mkdir "$tmp/img"
chown nobody:nogroup "$tmp/img"
CAP=0 as_nobody setsid -f ./counter </dev/null >"$tmp/out" 2>&1
for i in $(seq 50); do grep -q ready "$tmp/out" && break; sleep 0.1; done
pid=$(pgrep -n -u nobody -x counter)	# a name only this test uses
[ -n "$pid" ] || { bad start "the target did not start"; exit 1; }
chown nobody:nogroup "$tmp/out"

# 1. no capability: dump refused up front, the target untouched
CAP=0 as_nobody ./cr dump -t "$pid" -D img 2>"$tmp/err"
st=$?
if [ $st = 1 ] && one_line dump-nocap CAP_CHECKPOINT_RESTORE; then
	if [ -e "$tmp/img/cr.img.part" ] || [ -e "$tmp/img/cr.img" ]; then
		bad dump-nocap "an image file was created"
	elif ! grep -q "^State:.*[RS]" /proc/$pid/status ||
	     ! grep -q "^TracerPid:.0" /proc/$pid/status; then
		bad dump-nocap "the target is not running untraced"
	else
		ok dump-nocap
	fi
elif [ $st != 1 ]; then
	bad dump-nocap "cr dump: exit $st"
fi

# 2. with it: dump, restore, the restored process has no capabilities
if ! CAP=1 as_nobody ./cr dump -t "$pid" -D img 2>"$tmp/err"; then
	bad dump "$(cat "$tmp/err")"
	exit 1
fi
ok dump
for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done

# 3. no capability: restore refused, nothing created
CAP=0 as_nobody ./cr restore -D img -d 2>"$tmp/err"
st=$?
if [ $st = 1 ] && one_line restore-nocap CAP_CHECKPOINT_RESTORE; then
	if kill -0 "$pid" 2>/dev/null; then
		bad restore-nocap "pid $pid exists"
	else
		ok restore-nocap
	fi
elif [ $st != 1 ]; then
	bad restore-nocap "cr restore: exit $st"
fi

# 4. forged images: uid 0, or every capability
forge() {	# forge uid|caps|bnd VALUE: CREDS uid, PRIV prm or PRIV bnd
	case $1 in
	uid) python3 "$here/forge.py" "$tmp/img/cr.img" "$tmp/forged/cr.img" 18 0 "$2" ;;
	caps) python3 "$here/forge.py" "$tmp/img/cr.img" "$tmp/forged/cr.img" 123 1 "$2" ;;
	bnd) python3 "$here/forge.py" "$tmp/img/cr.img" "$tmp/forged/cr.img" 123 3 "$2" ;;
	esac
}
mkdir "$tmp/forged"
chown nobody:nogroup "$tmp/forged"
# the capability sets are in PRIV only (one record, one blob step)
if ./cr show -D "$tmp/img" >"$tmp/show" 2>"$tmp/err" &&
   [ "$(grep -c '^ *PRIV ' "$tmp/show")" = 1 ] &&
   ! grep -q '^ *CAPS ' "$tmp/show"; then
	ok one-caps-record
else
	bad one-caps-record "want one PRIV and no CAPS record: $(grep -E '^ *(PRIV|CAPS) ' "$tmp/show" | tr '\n' ' ')$(head -c 200 "$tmp/err")"
fi
for c in "uid 0 uid" "caps 0xffffffffff capabilities" \
	 "bnd 0xffffffffffffffff capabilities"; do
	set -- $c
	if ! forge "$1" "$2"; then
		bad "forged-$1" "could not forge the image"
		continue
	fi
	CAP=1 as_nobody ./cr restore -D forged -d 2>"$tmp/err"
	st=$?
	if [ $st != 1 ]; then
		bad "forged-$1" "cr restore: exit $st: $(head -c 300 "$tmp/err")"
	elif one_line "forged-$1" "$3"; then
		if kill -0 "$pid" 2>/dev/null; then
			bad "forged-$1" "pid $pid exists"
		else
			ok "forged-$1"
		fi
	fi
done

# 5. the real image: restored as nobody, with nobody's capabilities
if ! CAP=1 as_nobody ./cr restore -D img -d 2>"$tmp/err"; then
	bad restore "$(cat "$tmp/err")"
else
	s=/proc/$pid/status
	caps=$(grep -E '^Cap(Inh|Prm|Eff|Amb)' $s | awk '{ print $2 }' | sort -u)
	if ! grep -q "^Uid:.65534.65534.65534.65534" $s; then
		bad restore "not uid 65534: $(grep Uid $s)"
	elif [ "$caps" != 0000000000000000 ]; then
		bad restore "capabilities kept: $(grep Cap $s | tr '\n' ' ')"
	else
		term_check restore
	fi
fi
summary
