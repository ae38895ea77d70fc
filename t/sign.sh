#!/bin/bash
# --sign KEYFILE (dump) and --verify KEYFILE (restore, show): HMAC-SHA-256
# over the whole image (the MAC record, tlv.h), on t/bin/counter.musl:
#   - cr selftest: SHA-256 and HMAC-SHA-256 on FIPS 180-4 / RFC 4231 vectors;
#   - a signed image shows and restores with its key, and with another key
#     is refused with one line, nothing created;
#   - an image altered after signing (a bit of the umask flipped, its CRC
#     made right by t/forge.py) is refused with --verify before anything is
#     created, and restored without it (it is a valid image: the umask
#     proves that the altered one ran);
#   - an unsigned image is refused with --verify;
#   - a signed stream through a pipe restores with --verify.
# Needs root and python3.
#   CR=path/to/cr bash t/sign.sh
# Prints "PASS/FAIL sign.CASE" lines and "N passed, N failed".

T_NAME=sign
. "$(dirname "$0")/shlib.sh"

# "cr ARGS" must exit 1 with one line on stderr containing $2, and leave
# no process with the image's pid
refused() {
	local name=$1 want=$2 st
	shift 2
	"$CR" "$@" >/dev/null 2>"$tmp/err" </dev/null
	st=$?
	if [ $st != 1 ]; then
		bad "$name" "cr $*: exit $st, want 1: $(head -c 300 "$tmp/err")"
	elif [ "$(wc -l < "$tmp/err")" != 1 ] || ! grep -q -- "$want" "$tmp/err"; then
		bad "$name" "want one line with \"$want\", got: $(head -c 300 "$tmp/err")"
	elif kill -0 "$pid" 2>/dev/null; then
		bad "$name" "pid $pid exists"
	else
		ok "$name"
	fi
}

gone() {
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}

# run "cr restore ARGS -d", check that pid runs with umask $1
restored() {
	local name=$1 umask=$2
	shift 2
	if ! "$CR" restore "$@" -d 2>"$tmp/err"; then
		bad "$name" "$(cat "$tmp/err")"
		return 1
	fi
	if ! grep -q "^Umask:.$umask" /proc/$pid/status; then
		bad "$name" "restored with $(grep Umask /proc/$pid/status), want $umask"
		return 1
	fi
	ok "$name"
}

cd "$tmp" || exit 1
mkdir img forged plain
head -c 48 /dev/urandom > key
head -c 48 /dev/urandom > other

if "$CR" selftest > selftest.out 2>&1; then
	ok selftest
else
	bad selftest "$(tail -3 selftest.out | tr '\n' ' ')"
fi

(umask 022
 for fd in /proc/$BASHPID/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
 exec setsid "$here/bin/counter.musl" </dev/null >out 2>&1) &
pid=$!	# the subshell, setsid and the program are one process
disown
for i in $(seq 50); do grep -q ready out 2>/dev/null && break; sleep 0.1; done
grep -q ready out 2>/dev/null || { bad start "the target did not start"; exit 1; }

# an unsigned snapshot, then the signed dump
if ! "$CR" dump -t "$pid" -D plain -R 2>err || ! "$CR" dump -t "$pid" -D img --sign key 2>err; then
	bad dump "$(cat err)"
	exit 1
fi
ok dump
gone || { bad dump "pid $pid still runs"; exit 1; }

if "$CR" show img --verify key > show.out 2>err && grep -q "^MAC" show.out; then
	ok show-verify
else
	bad show-verify "$(cat err)"
fi
refused show-other-key "does not match" show img --verify other
refused restore-other-key "does not match" restore -D img --verify other -d
refused restore-unsigned "not signed" restore -D plain --verify key -d

# umask is field 4 of PROC (17): 022 -> 023, the checksum made right
python3 "$here/forge.py" img/cr.img forged/cr.img 17 4 ^1 ||
	bad forge "t/forge.py failed"
refused restore-altered "does not match" restore -D forged --verify key -d
if restored restore-altered-unverified 0023 -D forged; then
	kill -KILL "$pid"
	gone || bad restore-altered-unverified "pid $pid does not go"
fi

restored restore-verify 0022 -D img --verify key &&
if "$CR" dump -t "$pid" --image - --sign key 2>err |
   "$CR" restore --image - --verify key -d 2>err2; then
	kill -TERM "$pid"
	gone
	if grep -q '^PASS' out; then
		ok pipe
	else
		bad pipe "the program said: $(tail -1 out)"
	fi
else
	bad pipe "$(cat err err2)"
fi
summary
