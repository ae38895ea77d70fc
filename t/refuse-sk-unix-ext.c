/* Holds a unix stream socket whose peer is a process outside the dumped tree (a daemon double-forked away): cr dump must refuse, even with --ext-unix-sk, and leave the process running undisturbed. */
#include "lib.h"
#include <sys/socket.h>

int main(int argc, char **argv)
{
	int sv[2], type = 0;
	socklen_t len = sizeof(type);
	char c;

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		fail("socketpair: %s", strerror(errno));
	if (!xfork()) {
		setsid();	/* frees the test's group and session ids */
		if (xfork())
			_exit(0);
		/* the outside peer: ends when the test closes its end */
		close(sv[0]);
		for (int fd = 0; fd < 3; fd++)
			close(fd);
		while (read(sv[1], &c, 1) > 0)
			;
		_exit(0);
	}
	close(sv[1]);
	xwaitpid(-1, 0);
	if (send(sv[0], "x", 1, 0) != 1)
		fail("send: %s", strerror(errno));
	test_ready();
	if (spin_counters(10000000) < 1000)
		fail("counter barely moved");
	if (getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &len) ||
	    type != SOCK_STREAM || send(sv[0], "y", 1, 0) != 1)
		fail("socket fd broken");
	pass();
}
