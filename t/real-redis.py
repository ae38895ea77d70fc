# redis-server (Debian's) in the tree, dumped and restored mid-traffic (--tcp-established): a client outside the tree keeps its connections, reads back the keys set before the dump, and every INCR it sent counted exactly once.
import os
import signal
import socket
import subprocess
import sys
import time

done = False


def on_term(sig, frame):
    global done
    done = True


def say(s):
    sys.stdout.write(s + "\n")
    sys.stdout.flush()


def fail(why):
    say("FAIL: %s" % why)
    sys.exit(1)


def free_port():
    """Below the ephemeral range: no outgoing connection takes it meanwhile."""
    import random
    for _ in range(200):
        p = random.randrange(10000, 30000)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            return p
        except OSError:
            pass
        finally:
            s.close()
    fail("no free port")


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def send(self, *args):
        m = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            m += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(m)

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("connection closed")
            self.buf += d
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def reply(self):
        l = self.line()
        if l[:1] == b"$":
            n = int(l[1:])
            while len(self.buf) < n + 2:
                d = self.s.recv(65536)
                if not d:
                    raise EOFError("connection closed")
                self.buf += d
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if l[:1] == b"-":
            raise RuntimeError(l.decode())
        return l[1:]

    def cmd(self, *args):
        self.send(*args)
        return self.reply()


def client(port):
    """Outside the tree: its verdict goes to client.result."""
    def end(msg):
        with open("client.result", "w") as f:
            f.write(msg)
        os._exit(0)

    try:
        data = Conn(port)
        for i in range(2000):
            data.send("SET", "key%d" % i, ("value%d-" % i) * 50)
        for i in range(2000):
            if data.reply() != b"OK":
                end("FAIL: client: SET %d" % i)
        counter = Conn(port)
        open("client.ready", "w").close()
        acked = 0
        while not os.path.exists("go"):     # traffic through the dump
            if int(counter.cmd("INCR", "n")) != acked + 1:
                end("FAIL: client: INCR gave a wrong count after %d" % acked)
            acked += 1
        for i in range(2000):
            data.send("GET", "key%d" % i)
        for i in range(2000):
            if data.reply() != (("value%d-" % i) * 50).encode():
                end("FAIL: client: key%d read back wrong" % i)
        n = int(counter.cmd("GET", "n"))
        if n != acked:
            end("FAIL: client: counter %d, but %d INCRs answered" % (n, acked))
        if Conn(port).cmd("PING") != b"PONG":
            end("FAIL: client: a new connection gets no PONG")
        end("PASS %d INCRs" % acked)
    except Exception as e:
        end("FAIL: client: %r" % e)


def main():
    signal.signal(signal.SIGTERM, on_term)
    if subprocess.call(["sh", "-c", "command -v redis-server"],
                       stdout=subprocess.DEVNULL) != 0:
        say("SKIP no redis-server (apt-get install redis-server)")
        sys.exit(0)
    for f in ("client.ready", "client.result", "go"):
        if os.path.exists(f):
            os.unlink(f)
    port = free_port()
    log = open("redis.log", "w")
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", os.getcwd()],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True)
    log.close()
    end = time.time() + 20
    while True:
        try:
            if Conn(port).cmd("PING") == b"PONG":
                break
        except OSError:
            pass
        if time.time() > end:
            fail("redis-server does not answer")
        time.sleep(0.05)
    pid = os.fork()
    if pid == 0:                    # the client: a grandchild, outside the tree
        if os.fork():
            os._exit(0)
        os.setsid()
        client(port)
    os.waitpid(pid, 0)
    end = time.time() + 30
    while not os.path.exists("client.ready"):
        if time.time() > end:
            fail("the client never got ready")
        time.sleep(0.05)
    time.sleep(0.2)                 # INCRs going
    say("ready")
    while not done:
        time.sleep(0.05)
    time.sleep(0.5)                 # INCRs going after the restore
    open("go", "w").close()
    end = time.time() + 30
    res = ""
    while not res:
        if os.path.exists("client.result"):
            with open("client.result") as f:
                res = f.read()
        elif time.time() > end:
            fail("no word from the client")
        else:
            time.sleep(0.05)
    redis.terminate()
    redis.wait()
    if not res.startswith("PASS"):
        fail(res)
    say("PASS")


main()
