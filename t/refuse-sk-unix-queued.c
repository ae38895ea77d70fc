/* A listening unix socket holds a connection not accepted yet whose client already sent data (the data sits with the connection, unreadable before the accept): cr dump must refuse, and the connection and its data stay as they were. */
#include "lib.h"
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int l = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0), s;
	socklen_t al;
	char buf[8];

	test_init(argc, argv);
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "cr-sk-queued-%d", (int)getpid());
	al = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1);
	if (bind(l, (struct sockaddr *)&a, al) || listen(l, 4) ||
	    connect(c, (struct sockaddr *)&a, al) || send(c, "early", 5, 0) != 5)
		fail("setting up: %s", strerror(errno));
	test_ready();
	if (spin_counters(10000000) < 1000)
		fail("counter barely moved");
	s = accept(l, NULL, NULL);
	if (s < 0 || recv(s, buf, 5, MSG_WAITALL) != 5 || memcmp(buf, "early", 5))
		fail("the queued connection or its data changed");
	pass();
}
