# A shell waiting for a running pipeline (yes | grep): the shell, both programs and the pipe come back, the data keeps flowing uncorrupted.
done=0
trap 'done=1' TERM

fail() {
	echo "FAIL: $*"
	exit 1
}

# bytes the process has read so far
rchar() {
	local key val
	while read -r key val; do
		[ "$key" = rchar: ] && echo "$val" && return
	done < "/proc/$1/io"
	echo 0
}

line='cr pipeline line'
yes "$line" | grep -v -x -e "$line" > bad.txt &
grep_pid=$!
yes_pid=$(jobs -p)
[ "$yes_pid" != "$grep_pid" ] || fail "no pid for yes"
while [ "$(rchar "$grep_pid")" -lt 1000000 ]; do
	sleep 0.01
done
echo ready

while [ "$done" = 0 ]; do
	wait "$grep_pid"
	st=$?
	[ "$done" = 1 ] || fail "grep ended with $st before SIGTERM"
done

kill -0 "$yes_pid" "$grep_pid" || fail "yes or grep is gone"
r0=$(rchar "$grep_pid")
sleep 0.2
r1=$(rchar "$grep_pid")
[ "$r1" -gt "$r0" ] || fail "grep read nothing more in 0.2 s ($r0 bytes)"
kill "$yes_pid"
wait "$grep_pid"
st=$?
[ "$st" = 1 ] || fail "grep ended with $st, want 1 (no odd lines)"
[ -s bad.txt ] && fail "odd lines went through the pipe: $(head -c 80 bad.txt)"
echo PASS
