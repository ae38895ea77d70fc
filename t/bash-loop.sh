# Bash loop: arrays built before the dump and $$ survive; the loop keeps running.
done=0
trap 'done=1' TERM

fail() {
	echo "FAIL: $*"
	exit 1
}

build() {
	local i x=7
	sum=0
	for ((i = 0; i < 3000; i++)); do
		x=$(( (x * 1103515245 + 12345) & 0x7fffffff ))
		arr[i]=$x
		sum=$((sum + x))
	done
}

build
want=$sum
words="alpha beta gamma"
echo ready

n=0
while [ "$done" = 0 ]; do
	n=$((n + 1))
done

saved=("${arr[@]}")
build
[ "$sum" = "$want" ] || fail "sum $sum, was $want"
[ "${saved[*]}" = "${arr[*]}" ] || fail "array changed"
[ "$words" = "alpha beta gamma" ] || fail "string changed"
read -r pid _ < /proc/self/stat
[ "$pid" = "$$" ] || fail "pid $pid, \$\$ is $$"
[ "$BASHPID" = "$$" ] || fail "BASHPID $BASHPID, \$\$ is $$"
[ "$n" -gt 0 ] || fail "loop did not run"
echo PASS
