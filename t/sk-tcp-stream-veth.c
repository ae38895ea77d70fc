/* A TCP server in the tree echoes a checksummed stream from a client outside it (its own network namespace, linked by a veth pair the test makes with ip(8)) while it is dumped and restored: the client sees every byte exactly once, in order, and no RST (--tcp-established and the network lock). */
#include "fdlib.h"
#include <stdarg.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>

#define CHUNK 16384
#define STALL_MS 30000		/* the client gives up after this long */
#define RESULT "client.result"

static uint8_t pat(uint64_t i)
{
	return (uint8_t)(i * 7 + (i >> 8) * 13 + (i >> 16));
}

static void verify(const uint8_t *b, size_t n, uint64_t off, const char *who)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != pat(off + i))
			fail("%s: byte %llu is wrong", who,
			     (unsigned long long)(off + i));
}

static void sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st)
		fail("\"%s\": status %d", cmd, st);
}

static int result_fd = -1;

/* The client, outside the tree: its verdict goes to RESULT. */
static void __attribute__((noreturn)) client_end(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (write(result_fd, buf, n) != n)
		_exit(2);
	_exit(0);
}

static void client(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	uint64_t sent = 0, echoed = 0;
	long long end = mono_ns() + 20 * NS_PER_SEC;
	uint8_t buf[CHUNK];
	int s;

	inet_pton(AF_INET, ip, &a.sin_addr);
	for (;;) {	/* the address may need a moment (DAD is off for v4) */
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (!connect(s, (struct sockaddr *)&a, sizeof(a)))
			break;
		close(s);
		if (mono_ns() > end)
			client_end("FAIL: client: connect: %s", strerror(errno));
		sleep_us(100000);
	}
	fcntl(s, F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd p = { s, POLLIN | (sent - echoed < (4u << 20) ?
						 POLLOUT : 0), 0 };
		ssize_t n;

		if (poll(&p, 1, STALL_MS) != 1)
			client_end("FAIL: client: stalled %d s at %llu bytes sent, %llu echoed",
				   STALL_MS / 1000, (unsigned long long)sent,
				   (unsigned long long)echoed);
		if (p.revents & POLLIN) {
			n = recv(s, buf, sizeof(buf), 0);
			if (n == 0)
				break;
			if (n < 0 && errno != EAGAIN)
				client_end("FAIL: client: recv after %llu bytes: %s",
					   (unsigned long long)echoed, strerror(errno));
			for (ssize_t i = 0; i < n; i++)
				if (buf[i] != pat(echoed + i))
					client_end("FAIL: client: echoed byte %llu is wrong",
						   (unsigned long long)(echoed + i));
			echoed += n > 0 ? n : 0;
		}
		if (p.revents & POLLOUT) {
			for (size_t i = 0; i < sizeof(buf); i++)
				buf[i] = pat(sent + i);
			n = send(s, buf, sizeof(buf), MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN)
				client_end("FAIL: client: send after %llu bytes: %s",
					   (unsigned long long)sent, strerror(errno));
			sent += n > 0 ? n : 0;
			sleep_us(1000);		/* about 16 MB/s at most */
		}
		if (p.revents & (POLLERR | POLLHUP) && !(p.revents & POLLIN))
			client_end("FAIL: client: connection error after %llu bytes",
				   (unsigned long long)echoed);
	}
	client_end("PASS %llu bytes echoed", (unsigned long long)echoed);
}

int main(int argc, char **argv)
{
	char host[16], peer[16], sip[32], cip[32], res[256];
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	uint64_t got = 0, at_ready = 0;
	uint8_t buf[CHUNK];
	unsigned r = 0;
	int l, s, up[2], down[2], fd, gpid = 0, port, n;
	long long end = 0;
	pid_t pid;
	char c;

	test_init(argc, argv);
	if (system("ip -V >/dev/null 2>&1"))
		skip("no ip(8): install iproute2");
	fd = open("/dev/urandom", O_RDONLY);
	if (fd < 0 || read(fd, &r, sizeof(r)) != sizeof(r))
		fail("urandom: %s", strerror(errno));
	close(fd);
	snprintf(host, sizeof(host), "crh%06x", r & 0xffffff);
	snprintf(peer, sizeof(peer), "crp%06x", r & 0xffffff);
	snprintf(sip, sizeof(sip), "169.254.%u.%u", 1 + (r >> 24) % 250,
		 (r >> 8 & 0x3f) * 4 + 1);
	snprintf(cip, sizeof(cip), "169.254.%u.%u", 1 + (r >> 24) % 250,
		 (r >> 8 & 0x3f) * 4 + 2);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind_low_port(l, &a, len) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len))
		fail("listener: %s", strerror(errno));
	port = ntohs(a.sin_port);
	unlink(RESULT);
	result_fd = open(RESULT, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (result_fd < 0 || pipe(up) || pipe(down))
		fail("setup: %s", strerror(errno));

	pid = xfork();
	if (!pid) {		/* the client: a grandchild, outside the tree */
		close(l);
		if (xfork())
			_exit(0);
		setsid();
		if (unshare(CLONE_NEWNET))
			client_end("FAIL: client: unshare(CLONE_NEWNET): %s",
				   strerror(errno));
		gpid = getpid();
		if (write(up[1], &gpid, sizeof(gpid)) != sizeof(gpid) ||
		    read(down[0], &c, 1) != 1)
			client_end("FAIL: client: no go from the server");
		close(up[0]), close(up[1]), close(down[0]), close(down[1]);
		fd = open("/dev/null", O_RDWR);
		dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
		snprintf((char *)buf, sizeof(buf),
			 "ip link set lo up && ip addr add %s/30 dev %s && ip link set %s up",
			 cip, peer, peer);
		if (system((char *)buf))
			client_end("FAIL: client: setting up %s", peer);
		client(sip, port);
	}
	child_reap(pid, 0);
	close(result_fd);
	if (read(up[0], &gpid, sizeof(gpid)) != sizeof(gpid))
		fail("no client");
	sh("ip link add %s type veth peer name %s && ip link set %s netns %d && "
	   "ip addr add %s/30 dev %s && ip link set %s up", host, peer, peer,
	   gpid, sip, host, host);
	if (write(down[1], "g", 1) != 1)
		fail("write: %s", strerror(errno));
	close(up[0]), close(up[1]), close(down[0]), close(down[1]);
	if (poll_fd(l, POLLIN, 20000) != POLLIN || (s = accept(l, NULL, NULL)) < 0)
		fail("the client did not connect: %s", strerror(errno));

	/* echo until SIGTERM: the dump and restore happen meanwhile */
	for (;;) {
		if (!at_ready && got > (1u << 20)) {
			at_ready = got;
			test_ready();
		}
		if (test_done() && !end) {
			end = mono_ns() + 20 * NS_PER_SEC;
			at_ready = got;	/* from here: after the restore */
		}
		if (end && got - at_ready >= (256u << 10))
			break;	/* it goes on after the restore */
		if (end && mono_ns() > end)
			fail("only %llu bytes after the restore in 20 s",
			     (unsigned long long)(got - at_ready));
		if (!(poll_fd(s, POLLIN, 100) & POLLIN))
			continue;
		n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			fail("server: recv after %llu bytes: %s",
			     (unsigned long long)got, n ? strerror(errno) : "EOF");
		verify(buf, n, got, "server");
		for (int off = 0; off < n;) {
			ssize_t w = send(s, buf + off, n - off, MSG_NOSIGNAL);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				fail("server: send: %s", strerror(errno));
			off += w;
		}
		got += n;
	}
	/* the end: our side closes; the client checks and says */
	shutdown(s, SHUT_WR);
	end = mono_ns() + 30 * NS_PER_SEC;
	while (mono_ns() < end && (poll_fd(s, POLLIN, 1000) & POLLIN) &&
	       ((n = recv(s, buf, sizeof(buf), MSG_DONTWAIT)) > 0 ||
		(n < 0 && (errno == EINTR || errno == EAGAIN))))
		;
	for (;;) {
		fd = open(RESULT, O_RDONLY);
		n = fd < 0 ? 0 : read(fd, res, sizeof(res) - 1);
		if (fd >= 0)
			close(fd);
		if (n > 0)
			break;
		if (mono_ns() > end)
			fail("no word from the client");
		sleep_us(10000);
	}
	res[n] = 0;
	if (strncmp(res, "PASS", 4))
		fail("%s", res);
	pass();
}
