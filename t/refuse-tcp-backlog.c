/* A listener with a connection the kernel completed but the program has not accepted yet: cr dump --tcp-established must refuse naming it (cr cannot put a connection back into a listener's queue, README), and leave everything working: the connection is then accepted and carries data. */
#include "lib.h"
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int l, c, s;
	char b = 0;

	test_init(argc, argv);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	l = socket(AF_INET, SOCK_STREAM, 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&a, len) ||
	    listen(l, 4) || getsockname(l, (struct sockaddr *)&a, &len) ||
	    connect(c, (struct sockaddr *)&a, len) || write(c, "y", 1) != 1)
		fail("connecting: %s", strerror(errno));
	test_ready();
	if (spin_counters(10000000) < 1000)
		fail("counter barely moved");
	if ((s = accept(l, NULL, NULL)) < 0 || read(s, &b, 1) != 1 || b != 'y' ||
	    write(s, "z", 1) != 1 || read(c, &b, 1) != 1 || b != 'z')
		fail("the queued connection is broken: %s", strerror(errno));
	pass();
}
