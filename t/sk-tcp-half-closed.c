/* A TCP connection shut down for writing (FIN_WAIT2) keeps receiving a checksummed stream from its peer outside the tree through dump and restore (--tcp-established): every byte once, then EOF, and the peer sees no RST.  A half-closed pair inside the tree (FIN_WAIT2 and CLOSE_WAIT, data unread) reads its data, then EOF, and goes on the other way. */
#include "fdlib.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <sys/socket.h>

#define RESULT "peer.result"
#define REQUEST 3000

static uint8_t pat(uint64_t i)
{
	return (uint8_t)(i * 11 + (i >> 9) * 5 + (i >> 17));
}

static int result_fd = -1;

static void __attribute__((noreturn, format(printf, 1, 2))) peer_end(const char *fmt, ...)
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

/* Outside the tree: read the request to EOF, then stream until "go". */
static void peer(const struct sockaddr_in *a)
{
	uint8_t buf[4096];
	uint64_t got = 0, sent = 0;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	if (connect(s, (const struct sockaddr *)a, sizeof(*a)))
		peer_end("FAIL: peer: connect: %s", strerror(errno));
	while ((n = recv(s, buf, sizeof(buf), 0)) > 0)
		got += n;
	if (n < 0 || got != REQUEST)
		peer_end("FAIL: peer: request of %llu bytes: %s",
			 (unsigned long long)got, n < 0 ? strerror(errno) : "");
	while (access("go", F_OK)) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = pat(sent + i);
		n = send(s, buf, sizeof(buf), MSG_NOSIGNAL);
		if (n <= 0)
			peer_end("FAIL: peer: send after %llu bytes: %s",
				 (unsigned long long)sent, strerror(errno));
		sent += n;
		sleep_us(2000);
	}
	close(s);
	peer_end("PASS %llu", (unsigned long long)sent);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	uint8_t buf[8192];
	uint64_t got = 0, want;
	struct tcp_info ti;
	long long end;
	int l, s, fd, n, fa, fb;
	char res[128];
	pid_t pid;

	test_init(argc, argv);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind_low_port(l, &a, len) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len))
		fail("listener: %s", strerror(errno));
	unlink(RESULT);
	unlink("go");
	result_fd = open(RESULT, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	pid = xfork();
	if (!pid) {		/* the peer: a grandchild, outside the tree */
		close(l);
		if (xfork())
			_exit(0);
		setsid();
		fd = open("/dev/null", O_RDWR);
		dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
		peer(&a);
	}
	child_reap(pid, 0);
	close(result_fd);
	s = accept(l, NULL, NULL);
	if (s < 0)
		fail("accept: %s", strerror(errno));
	for (int i = 0; i < REQUEST; i++)
		buf[i % sizeof(buf)] = 'r';
	for (int left = REQUEST; left > 0; left -= n)
		if ((n = write(s, buf, left < (int)sizeof(buf) ? left : (int)sizeof(buf))) <= 0)
			fail("write: %s", strerror(errno));
	shutdown(s, SHUT_WR);
	end = mono_ns() + 10 * NS_PER_SEC;
	do {		/* the peer acknowledged our FIN: FIN_WAIT2 */
		len = sizeof(ti);
		if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len))
			fail("TCP_INFO: %s", strerror(errno));
		if (mono_ns() > end)
			fail("state %d, not FIN_WAIT2", ti.tcpi_state);
		sleep_us(1000);
	} while (ti.tcpi_state != TCP_FIN_WAIT2);
	/* the pair inside: fa sent 5000 bytes and its FIN, fb read nothing */
	fa = socket(AF_INET, SOCK_STREAM, 0);
	len = sizeof(a);
	if (fa < 0 || connect(fa, (struct sockaddr *)&a, len) ||
	    (fb = accept(l, NULL, NULL)) < 0)
		fail("pair: %s", strerror(errno));
	for (int i = 0; i < 5000; i++)
		buf[i] = pat(i + 77);
	if (write(fa, buf, 5000) != 5000 || shutdown(fa, SHUT_WR))
		fail("pair: %s", strerror(errno));
	end = mono_ns() + 10 * NS_PER_SEC;
	do {
		len = sizeof(ti);
		if (getsockopt(fb, IPPROTO_TCP, TCP_INFO, &ti, &len))
			fail("TCP_INFO: %s", strerror(errno));
		if (mono_ns() > end)
			fail("pair: state %d, not CLOSE_WAIT", ti.tcpi_state);
		sleep_us(1000);
	} while (ti.tcpi_state != TCP_CLOSE_WAIT);
	fcntl(s, F_SETFL, O_NONBLOCK);
	end = 0;
	for (;;) {	/* read the stream; the dump happens meanwhile */
		if (got > 200000 && !end) {
			test_ready();
			end = 1;
		}
		if (test_done() && end == 1) {
			sleep_us(500000);	/* more after the restore */
			close(open("go", O_WRONLY | O_CREAT, 0644));
			end = 2;
		}
		if (!(poll_fd(s, POLLIN, 100) & POLLIN))
			continue;
		n = recv(s, buf, sizeof(buf), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			fail("recv after %llu bytes: %s", (unsigned long long)got,
			     strerror(errno));
		if (n == 0)
			break;
		for (int i = 0; i < n; i++)
			if (buf[i] != pat(got + i))
				fail("byte %llu is wrong", (unsigned long long)(got + i));
		got += n;
	}
	if (end != 2)
		fail("EOF before the end, at %llu bytes", (unsigned long long)got);
	/* the pair: fb reads the data, then the end; then the other way */
	if (poll_fd(fb, POLLIN, 10000) != POLLIN ||
	    recv(fb, buf, sizeof(buf), MSG_WAITALL) != 5000)
		fail("pair: fb did not get the 5000 bytes");
	for (int i = 0; i < 5000; i++)
		if (buf[i] != pat(i + 77))
			fail("pair: byte %d is wrong", i);
	if (recv(fb, buf, 1, 0) != 0)
		fail("pair: no EOF after the data on fb");
	if (write(fb, "after", 5) != 5 || shutdown(fb, SHUT_WR) ||
	    poll_fd(fa, POLLIN, 10000) == 0 ||
	    recv(fa, buf, sizeof(buf), MSG_WAITALL) != 5 ||
	    memcmp(buf, "after", 5) || recv(fa, buf, 1, 0) != 0)
		fail("pair: fa did not get \"after\" and the end: %s",
		     strerror(errno));
	end = mono_ns() + 20 * NS_PER_SEC;
	for (n = 0; n <= 0;) {
		fd = open(RESULT, O_RDONLY);
		n = fd < 0 ? 0 : read(fd, res, sizeof(res) - 1);
		if (fd >= 0)
			close(fd);
		if (n <= 0 && mono_ns() > end)
			fail("no word from the peer");
		if (n <= 0)
			sleep_us(10000);
	}
	res[n] = 0;
	if (strncmp(res, "PASS ", 5))
		fail("%s", res);
	want = strtoull(res + 5, NULL, 10);
	if (want != got)
		fail("got %llu bytes, the peer sent %llu", (unsigned long long)got,
		     (unsigned long long)want);
	pass();
}
