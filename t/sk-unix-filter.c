/* A datagram socket with a classic BPF filter that cuts every message to 4 bytes, locked (SO_LOCK_FILTER), holding a message it cut: after restore the message is as it was queued, the filter still cuts new ones and is still locked. */
#include "lib.h"
#include <sys/socket.h>

/* linux/filter.h, which the musl test build does not see */
struct sock_filter {
	uint16_t code;
	uint8_t jt, jf;
	uint32_t k;
};
struct sock_fprog {
	unsigned short len;
	struct sock_filter *filter;
};
#define BPF_RET_K	0x06	/* BPF_RET | BPF_K */
#ifndef SO_ATTACH_FILTER
#define SO_ATTACH_FILTER 26
#define SO_DETACH_FILTER 27
#endif
#ifndef SO_GET_FILTER
#define SO_GET_FILTER	SO_ATTACH_FILTER
#endif
#ifndef SO_LOCK_FILTER
#define SO_LOCK_FILTER	44
#endif

static void get(int s, const char *what)
{
	char buf[64];
	ssize_t n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);

	if (n != (ssize_t)strlen(what) || memcmp(buf, what, n))
		fail("wanted \"%s\", got %zd bytes", what, n);
}

int main(int argc, char **argv)
{
	struct sock_filter cut[] = { { BPF_RET_K, 0, 0, 4 } };
	struct sock_fprog prog = { 1, cut };
	struct sock_filter got[4];
	socklen_t n = 4;
	int sv[2], one = 1, v = 0;
	socklen_t l = sizeof(v);

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) ||
	    setsockopt(sv[1], SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) ||
	    setsockopt(sv[1], SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof(one)))
		fail("setting up: %s", strerror(errno));
	if (send(sv[0], "hello world", 11, 0) != 11)
		fail("send: %s", strerror(errno));
	test_ready();
	test_wait();

	get(sv[1], "hell");
	if (send(sv[0], "abcdefgh", 8, 0) != 8)
		fail("send: %s", strerror(errno));
	get(sv[1], "abcd");
	if (getsockopt(sv[1], SOL_SOCKET, SO_GET_FILTER, got, &n) || n != 1 ||
	    got[0].code != BPF_RET_K || got[0].k != 4)
		fail("the filter is not the one attached");
	if (getsockopt(sv[1], SOL_SOCKET, SO_LOCK_FILTER, &v, &l) || v != 1 ||
	    !setsockopt(sv[1], SOL_SOCKET, SO_DETACH_FILTER, &one, sizeof(one)))
		fail("the filter is not locked");
	pass();
}
