/* Dumped with --ext-unix-sk: a datagram socket (autobound) connected to an echo daemon outside the tree, bound to an abstract name, with one reply queued.  After restore the reply is there, the socket is connected to the daemon again and its name is the same, so new requests get answers. */
#include "lib.h"
#include <ctype.h>
#include <sys/socket.h>
#include <sys/un.h>

static socklen_t daemon_addr(struct sockaddr_un *a)
{
	int n;

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "cr-sk-ext-%d",
		     (int)getpid());
	return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

/* Outside the tree: upper-case each message back to its sender. */
static void echo_daemon(int s)
{
	char buf[256];
	struct sockaddr_un from;

	alarm(120);
	for (;;) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(s, buf, sizeof(buf), 0,
				     (struct sockaddr *)&from, &fl);

		if (n == 4 && !memcmp(buf, "quit", 4))
			_exit(0);
		for (ssize_t i = 0; i < n; i++)
			buf[i] = toupper((unsigned char)buf[i]);
		if (n >= 0)
			sendto(s, buf, n, 0, (struct sockaddr *)&from, fl);
	}
}

static void hear(int s, const char *what)
{
	char buf[256];
	ssize_t n = recv(s, buf, sizeof(buf), 0);

	if (n != (ssize_t)strlen(what) || memcmp(buf, what, n))
		fail("wanted \"%s\", got %zd bytes", what, n);
}

static void say(int s, const char *what)
{
	if (send(s, what, strlen(what), 0) != (ssize_t)strlen(what))
		fail("send %s: %s", what, strerror(errno));
}

int main(int argc, char **argv)
{
	struct sockaddr_un a, me, me2, peer;
	socklen_t al = daemon_addr(&a), ml = sizeof(me), ml2 = sizeof(me2),
		  pl = sizeof(peer);
	int d = socket(AF_UNIX, SOCK_DGRAM, 0), s = socket(AF_UNIX, SOCK_DGRAM, 0);
	sa_family_t fam = AF_UNIX;

	test_init(argc, argv);
	if (bind(d, (struct sockaddr *)&a, al))
		fail("bind: %s", strerror(errno));
	if (!xfork()) {
		setsid();	/* frees the test's group and session ids */
		if (xfork())
			_exit(0);
		close(s);
		for (int fd = 0; fd < 3; fd++)
			close(fd);
		echo_daemon(d);
	}
	xwaitpid(-1, 0);
	close(d);
	if (bind(s, (struct sockaddr *)&fam, sizeof(fam)) ||	/* autobind */
	    connect(s, (struct sockaddr *)&a, al) ||
	    getsockname(s, (struct sockaddr *)&me, &ml))
		fail("autobind/connect: %s", strerror(errno));
	say(s, "ping1");
	hear(s, "PING1");
	say(s, "ping2");
	usleep(100000);		/* the reply is queued */
	test_ready();
	test_wait();

	if (getsockname(s, (struct sockaddr *)&me2, &ml2) || ml2 != ml ||
	    memcmp(&me, &me2, ml) || getpeername(s, (struct sockaddr *)&peer, &pl) ||
	    pl != al || memcmp(&peer, &a, al))
		fail("own or peer name changed");
	hear(s, "PING2");
	say(s, "ping3");
	hear(s, "PING3");
	say(s, "quit");
	pass();
}
