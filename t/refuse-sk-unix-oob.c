/* A unix stream socket holds an out-of-band byte (MSG_OOB) not read yet: cr dump must refuse and leave the byte and the data around it in place. */
#include "lib.h"
#include <sys/socket.h>

int main(int argc, char **argv)
{
	int sv[2], got = 0;
	ssize_t n = 1;
	char c = 0, buf[8];

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		fail("socketpair: %s", strerror(errno));
	if (send(sv[0], "ab", 2, 0) != 2 || send(sv[0], "X", 1, MSG_OOB) != 1)
		skip("no MSG_OOB on unix sockets here");
	if (send(sv[0], "cd", 2, 0) != 2)
		fail("send: %s", strerror(errno));
	test_ready();
	if (spin_counters(10000000) < 1000)
		fail("counter barely moved");
	if (recv(sv[1], &c, 1, MSG_OOB) != 1 || c != 'X')
		fail("the out-of-band byte is gone");
	while (got < 4 && n > 0)	/* reads stop at the mark */
		got += n = recv(sv[1], buf + got, 4 - got, MSG_DONTWAIT);
	if (got != 4 || memcmp(buf, "abcd", 4))
		fail("the data around it changed");
	pass();
}
