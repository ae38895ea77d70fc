/* Dumped with --tcp-close, an established TCP connection comes back as a closed socket (as CRIU does): same fd, same family, not connected; the listener beside it still works. */
#include "fdlib.h"
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

static void expect_closed(int s, int fam, const char *what)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	int v = -1;
	char b;

	if (getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &len) || v != fam)
		fail("%s: family %d, want %d", what, v, fam);
	len = sizeof(a);
	if (!getpeername(s, (struct sockaddr *)&a, &len) || errno != ENOTCONN)
		fail("%s: still connected", what);
	if (recv(s, &b, 1, MSG_DONTWAIT) != -1 || errno != ENOTCONN)
		fail("%s: recv does not say ENOTCONN: %s", what, strerror(errno));
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int l, c, s, on = 1, t;
	char b = 0;

	test_init(argc, argv);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	l = socket(AF_INET, SOCK_STREAM, 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || c < 0 ||
	    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ||
	    bind_low_port(l, &a, len) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len) ||
	    connect(c, (struct sockaddr *)&a, len) ||
	    (s = accept(l, NULL, NULL)) < 0)
		fail("connecting: %s", strerror(errno));
	if (write(c, "queued", 6) != 6)
		fail("write: %s", strerror(errno));
	test_ready();
	test_wait();

	expect_closed(c, AF_INET, "client end");
	expect_closed(s, AF_INET, "server end");
	t = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(t, (struct sockaddr *)&a, len) ||
	    (s = accept(l, NULL, NULL)) < 0 || write(t, "z", 1) != 1 ||
	    read(s, &b, 1) != 1 || b != 'z')
		fail("the listener does not work: %s", strerror(errno));
	pass();
}
