# nginx (Debian's nginx-light: a master and 2 workers) in the tree, dumped and restored while a client outside the tree keeps asking (--tcp-established): requests on a keep-alive connection open across the dump and on new connections before, during (they wait) and after it all come back whole, and the master still has its 2 workers.
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


def get(s, path, buf, close=False):
    """One HTTP/1.1 GET on socket s; returns (body, rest of buf)."""
    s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n" %
              (path.encode(), b"Connection: close\r\n" if close else b""))
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise EOFError("connection closed in the headers")
        buf += d
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.1 200"):
        raise RuntimeError("status %r" % lines[0])
    n = [int(l.split(b":")[1]) for l in lines
         if l.lower().startswith(b"content-length:")][0]
    while len(buf) < n:
        d = s.recv(65536)
        if not d:
            raise EOFError("connection closed in the body")
        buf += d
    return buf[:n], buf[n:]


def client(port, want):
    """Outside the tree: its verdict goes to client.result."""
    def end(msg):
        with open("client.result", "w") as f:
            f.write(msg)
        os._exit(0)

    def fresh():
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        body, _ = get(s, "/f.txt", b"", close=True)
        s.close()
        return body

    if os.fork() == 0:      # new connections, one after the other, meanwhile
        n = 0
        try:
            while not os.path.exists("go"):
                if fresh() != want:
                    raise RuntimeError("wrong body")
                n += 1
            with open("knock.result", "w") as f:
                f.write("PASS %d" % n)
        except Exception as e:
            with open("knock.result", "w") as f:
                f.write("FAIL: client: new connection %d: %r" % (n, e))
        os._exit(0)
    try:
        keep = socket.create_connection(("127.0.0.1", port), timeout=60)
        buf = b""
        n = 0
        while not os.path.exists("go"):  # through the dump
            body, buf = get(keep, "/f.txt", buf)
            if body != want:
                end("FAIL: client: keep-alive request %d: wrong body" % n)
            if n % 5 == 0 and fresh() != want:
                end("FAIL: client: new connection %d: wrong body" % n)
            n += 1
            if n == 20:
                open("client.ready", "w").close()
            time.sleep(0.005)
        for i in range(20):
            body, buf = get(keep, "/f.txt", buf)
            if body != want or fresh() != want:
                end("FAIL: client: request %d after the restore" % i)
        for i in range(600):
            if os.path.exists("knock.result"):
                break
            time.sleep(0.1)
        knock = open("knock.result").read()
        if not knock.startswith("PASS"):
            end(knock)
        end("PASS %d requests, %s new connections" % (n, knock[5:]))
    except Exception as e:
        end("FAIL: client: %r" % e)


def workers(master):
    with open("/proc/%d/task/%d/children" % (master, master)) as f:
        return f.read().split()


def main():
    signal.signal(signal.SIGTERM, on_term)
    if subprocess.call(["sh", "-c", "command -v nginx"],
                       stdout=subprocess.DEVNULL) != 0:
        say("SKIP no nginx (apt-get install nginx-light)")
        sys.exit(0)
    for f in ("client.ready", "client.result", "go", "knock.result"):
        if os.path.exists(f):
            os.unlink(f)
    cwd = os.getcwd()
    os.makedirs("www", exist_ok=True)
    want = b"".join(b"line %d of the page\n" % i for i in range(3000))
    with open("www/f.txt", "wb") as f:
        f.write(want)
    port = free_port()
    with open("nginx.conf", "w") as f:
        f.write("""daemon off; master_process on; worker_processes 2;
pid %(d)s/nginx.pid; error_log %(d)s/error.log;
events { worker_connections 64; }
http { access_log off; keepalive_timeout 300; keepalive_requests 1000000;
  client_body_temp_path %(d)s/body; proxy_temp_path %(d)s/proxy;
  fastcgi_temp_path %(d)s/fastcgi; uwsgi_temp_path %(d)s/uwsgi;
  scgi_temp_path %(d)s/scgi;
  server { listen 127.0.0.1:%(p)d; location / { root %(d)s/www; } } }
""" % {"d": cwd, "p": port})
    log = open("nginx.log", "w")
    nginx = subprocess.Popen(["nginx", "-c", cwd + "/nginx.conf", "-p", cwd],
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                             close_fds=True)
    log.close()
    end = time.time() + 20
    while len(workers(nginx.pid)) != 2:
        if time.time() > end or nginx.poll() is not None:
            fail("nginx did not start its 2 workers")
        time.sleep(0.05)
    pid = os.fork()
    if pid == 0:                    # the client: a grandchild, outside the tree
        if os.fork():
            os._exit(0)
        os.setsid()
        client(port, want)
    os.waitpid(pid, 0)
    end = time.time() + 30
    while not os.path.exists("client.ready"):
        if os.path.exists("client.result"):
            fail(open("client.result").read())
        if time.time() > end:
            fail("the client never got ready")
        time.sleep(0.05)
    before = workers(nginx.pid)
    say("ready")
    while not done:
        time.sleep(0.05)
    time.sleep(0.5)                 # requests going after the restore
    open("go", "w").close()
    end = time.time() + 60
    res = ""
    while not res:
        if os.path.exists("client.result"):
            with open("client.result") as f:
                res = f.read()
        elif time.time() > end:
            fail("no word from the client")
        else:
            time.sleep(0.05)
    if workers(nginx.pid) != before:
        fail("nginx workers %s, were %s" % (workers(nginx.pid), before))
    nginx.terminate()
    nginx.wait()
    if not res.startswith("PASS"):
        fail(res)
    say("PASS")


main()
