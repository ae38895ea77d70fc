# Python interpreter loop: data built before the dump and the pid survive; the loop keeps running.
import os
import signal
import sys

done = False


def on_term(sig, frame):
    global done
    done = True


def fail(why):
    sys.stdout.write("FAIL: %s\n" % why)
    sys.stdout.flush()
    sys.exit(1)


def make_data():
    x, data = 12345, []
    for i in range(100000):
        x = (x * 1103515245 + 12345) & 0x7fffffff
        data.append(x)
    return data, {str(v): i for i, v in enumerate(data[:5000])}


def real_pid():
    with open("/proc/self/stat") as f:
        return int(f.read().split()[0])


signal.signal(signal.SIGTERM, on_term)
pid = os.getpid()
data, index = make_data()
want = sum(data)
sys.stdout.write("ready\n")
sys.stdout.flush()

rounds, x = 0, 1
while not done:
    x = (x * 31 + rounds) % 1000003
    rounds += 1
for _ in range(100000):
    x = (x * 31 + rounds) % 1000003
    rounds += 1

fresh, fresh_index = make_data()
if data != fresh or index != fresh_index or sum(data) != want:
    fail("data changed")
if os.getpid() != pid or real_pid() != pid:
    fail("pid changed: %d, was %d" % (real_pid(), pid))
if rounds < 100000:
    fail("loop did not run")
sys.stdout.write("PASS\n")
