/* Holds a socket of a kind cr does not handle (MPTCP, else UDP-Lite, else vsock): cr dump must refuse and leave the process running undisturbed. */
#include "lib.h"
#include <sys/socket.h>

int main(int argc, char **argv)
{
	int s, type = 0;
	socklen_t len = sizeof(type);

	test_init(argc, argv);
	s = socket(AF_INET, SOCK_STREAM, 262 /* IPPROTO_MPTCP */);
	if (s < 0)
		s = socket(AF_INET, SOCK_DGRAM, 136 /* IPPROTO_UDPLITE */);
	if (s < 0)
		s = socket(40 /* AF_VSOCK */, SOCK_STREAM, 0);
	if (s < 0)
		fail("socket: %s", strerror(errno));
	test_ready();
	if (spin_counters(10000000) < 1000)
		fail("counter barely moved");
	if (getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &len) ||
	    (type != SOCK_STREAM && type != SOCK_DGRAM))
		fail("socket fd broken");
	pass();
}
