# Python server and client on a unix stream socket bound to a path (parent serves, child pings): they talk during the dump and after restore, every answer matches its question.
import os
import selectors
import signal
import socket
import sys

done = False


def on_term(sig, frame):
    global done
    done = True


def fail(why):
    sys.stdout.write("FAIL: %s\n" % why)
    sys.stdout.flush()
    os._exit(1)


def client(path):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    f = c.makefile("rb")
    n, after = 0, 0
    while after < 200:
        c.sendall(b"%d\n" % n)
        line = f.readline()
        if line != b"%d!\n" % n:
            fail("child: answer %r to %d" % (line, n))
        n += 1
        if done:
            after += 1
    c.close()
    os._exit(40)


signal.signal(signal.SIGTERM, on_term)
path = "/tmp/cr-sk-py-%d" % os.getpid()
if os.path.exists(path):
    os.unlink(path)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(4)
kid = os.fork()
if kid == 0:
    srv.close()
    client(path)
conn, _ = srv.accept()
sel = selectors.DefaultSelector()
sel.register(conn, selectors.EVENT_READ)
buf, served, ready, told = b"", 0, False, False
while True:
    if done and not told:
        os.kill(kid, signal.SIGTERM)
        told = True
    if not sel.select(0.1):
        continue
    data = conn.recv(4096)
    if not data:
        break
    buf += data
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        conn.sendall(line + b"!\n")
        served += 1
    if served >= 50 and not ready:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        ready = True
_, st = os.waitpid(kid, 0)
if not os.WIFEXITED(st) or os.WEXITSTATUS(st) != 40:
    fail("child ended with status %#x" % st)
if not told:
    fail("the client ended before SIGTERM")
os.unlink(path)
sys.stdout.write("PASS\n")
