/* An established TCP connection with both ends in the tree carries a checksummed stream each way without pause while the tree is dumped and restored (--tcp-established): neither end ever sees an error (EPERM from a socket left in repair mode), a wrong, lost or doubled byte; in the fault mode the dump is failed or cr killed at every point and the streams must go on unharmed. */
#include "fdlib.h"
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#define CHUNK 4096
#define AFTER (512u << 10)	/* bytes each way after SIGTERM */

static uint8_t pat(uint64_t i, int seed)
{
	return (uint8_t)(i * 151 + seed * 29 + (i >> 10));
}

struct pump {
	int s, out, in;		/* socket, seeds of the two streams */
	uint64_t sent, got;
	bool shut;		/* our side is shut down */
	const char *who;
};

/* One round: send a chunk if there is room, read what came; false at EOF. */
static bool pump_once(struct pump *p)
{
	struct pollfd f = { p->s, POLLIN | (p->shut ? 0 : POLLOUT), 0 };
	uint8_t buf[CHUNK];
	ssize_t n;

	if (poll(&f, 1, 10000) == 0)
		fail("%s: stalled 10 s at %llu bytes sent, %llu received",
		     p->who, (unsigned long long)p->sent,
		     (unsigned long long)p->got);
	if (f.revents & POLLIN) {
		n = recv(p->s, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			return false;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			fail("%s: recv after %llu bytes: %s", p->who,
			     (unsigned long long)p->got, strerror(errno));
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pat(p->got + i, p->in))
				fail("%s: received byte %llu is wrong", p->who,
				     (unsigned long long)(p->got + i));
		p->got += n > 0 ? n : 0;
	}
	if (!p->shut && (f.revents & POLLOUT)) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = pat(p->sent + i, p->out);
		n = send(p->s, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			fail("%s: send after %llu bytes: %s", p->who,
			     (unsigned long long)p->sent, strerror(errno));
		p->sent += n > 0 ? n : 0;
		sleep_us(300);
	}
	if (f.revents & POLLERR)
		fail("%s: connection error after %llu bytes", p->who,
		     (unsigned long long)p->got);
	return true;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	struct pump p = { .out = 1, .in = 2, .who = "parent" };
	int l, sync[2], on = 1;
	uint64_t at_term = 0;
	pid_t pid;

	test_init(argc, argv);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ||
	    bind_low_port(l, &a, len) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len))
		fail("listener: %s", strerror(errno));
	sync_open(sync);
	pid = xfork();
	if (!pid) {
		struct pump c = { .out = 2, .in = 1, .who = "child" };

		close(l);
		c.s = socket(AF_INET, SOCK_STREAM, 0);
		if (c.s < 0 || connect(c.s, (struct sockaddr *)&a, len))
			fail("child: connect: %s", strerror(errno));
		child_ready(sync);
		while (pump_once(&c))	/* until the parent's end */
			;
		shutdown(c.s, SHUT_WR);
		exit(50);
	}
	p.s = accept(l, NULL, NULL);
	if (p.s < 0)
		fail("accept: %s", strerror(errno));
	close(l);
	children_ready(sync, 1);
	while (p.got < (1u << 20))
		pump_once(&p);
	test_ready();
	for (;;) {
		if (test_done() && !at_term)
			at_term = p.got;
		if (at_term && !p.shut && p.got - at_term >= AFTER) {
			shutdown(p.s, SHUT_WR);	/* the child ends too */
			p.shut = true;
		}
		if (!pump_once(&p))
			break;
	}
	if (!p.shut)
		fail("EOF from the child before our end");
	child_reap(pid, 50);
	pass();
}
