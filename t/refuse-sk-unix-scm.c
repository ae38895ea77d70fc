/* A unix socket holds a message carrying a descriptor (SCM_RIGHTS) not received yet: cr dump must refuse (files in flight are not restored) and leave the message and its descriptor in place. */
#include "lib.h"
#include <sys/socket.h>

int main(int argc, char **argv)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} c;
	char one = 'm';
	struct iovec iov = { &one, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = &c, .msg_controllen = sizeof(c) };
	int sv[2], p[2], fd;
	char x;

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) || pipe(p))
		fail("socketpair: %s", strerror(errno));
	memset(&c, 0, sizeof(c));
	c.h.cmsg_level = SOL_SOCKET;
	c.h.cmsg_type = SCM_RIGHTS;
	c.h.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&c.h), &p[1], sizeof(int));
	if (sendmsg(sv[1], &m, 0) != 1)
		fail("sendmsg: %s", strerror(errno));
	close(p[1]);
	test_ready();
	if (spin_counters(10000000) < 1000)
		fail("counter barely moved");
	m.msg_controllen = sizeof(c);
	if (recvmsg(sv[0], &m, MSG_DONTWAIT) != 1 || !CMSG_FIRSTHDR(&m) ||
	    CMSG_FIRSTHDR(&m)->cmsg_type != SCM_RIGHTS)
		fail("the message lost its descriptor");
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
	if (write(fd, "z", 1) != 1 || read(p[0], &x, 1) != 1 || x != 'z')
		fail("the descriptor passed is not the pipe");
	pass();
}
