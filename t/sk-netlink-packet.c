/* Netlink sockets keep protocol, port id, groups and options, and answer requests; an AF_PACKET socket keeps type, protocol, bound interface and options, and sees traffic. */
#include "fdlib.h"
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#define GROUP_A 23		/* RTNLGRP_DCB: quiet groups, so that no */
#define GROUP_B 27		/* message waits in the queue at the dump */

static int get(int s, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(s, level, name, &v, &len))
		fail("getsockopt %d/%d: %s", level, name, strerror(errno));
	return v;
}

static uint32_t portid(int s)
{
	struct sockaddr_nl a;
	socklen_t len = sizeof(a);

	if (getsockname(s, (struct sockaddr *)&a, &len))
		fail("getsockname: %s", strerror(errno));
	return a.nl_pid;
}

/* Ask for the links: the answer comes back to our port id. */
static void ask_links(int s)
{
	struct { struct nlmsghdr h; struct rtgenmsg g; } req = {
		{ sizeof(req), RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 42, 0 },
		{ AF_UNSPEC } };
	char buf[32768];
	struct nlmsghdr *h = (void *)buf;
	ssize_t n;

	if (send(s, &req, sizeof(req), 0) != sizeof(req))
		fail("netlink send: %s", strerror(errno));
	if (poll_fd(s, POLLIN, 5000) != POLLIN)
		fail("no netlink answer");
	n = recv(s, buf, sizeof(buf), 0);
	if (n < (ssize_t)sizeof(*h) || h->nlmsg_seq != 42 ||
	    h->nlmsg_pid != portid(s) || h->nlmsg_type != RTM_NEWLINK)
		fail("unexpected netlink answer (%zd bytes, type %d)", n,
		     n > 0 ? h->nlmsg_type : -1);
	while (poll_fd(s, POLLIN, 100) == POLLIN)	/* the rest of the dump */
		if (recv(s, buf, sizeof(buf), 0) <= 0)
			break;
}

int main(int argc, char **argv)
{
	struct sockaddr_nl na = { .nl_family = AF_NETLINK };
	struct sockaddr_ll la = { .sll_family = AF_PACKET };
	socklen_t len;
	uint32_t groups[4] = { 0 }, pid1;
	int nl1, nl2, pk, g, on = 1, lo = if_nametoindex("lo");

	test_init(argc, argv);
	nl1 = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	nl2 = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_GENERIC);
	pk = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK, htons(ETH_P_IP));
	if (nl1 < 0 || nl2 < 0 || pk < 0 || !lo)
		fail("socket: %s", strerror(errno));
	if (bind(nl1, (struct sockaddr *)&na, sizeof(na)))
		fail("bind: %s", strerror(errno));
	g = GROUP_A;
	if (setsockopt(nl1, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)))
		fail("join: %s", strerror(errno));
	g = GROUP_B;
	if (setsockopt(nl1, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) ||
	    setsockopt(nl1, SOL_NETLINK, NETLINK_NO_ENOBUFS, &on, sizeof(on)) ||
	    setsockopt(nl2, SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof(on)))
		fail("setsockopt: %s", strerror(errno));
	pid1 = portid(nl1);
	la.sll_protocol = htons(ETH_P_IP);
	la.sll_ifindex = lo;
	if (bind(pk, (struct sockaddr *)&la, sizeof(la)) ||
	    setsockopt(pk, SOL_PACKET, PACKET_AUXDATA, &on, sizeof(on)))
		fail("packet socket: %s", strerror(errno));
	test_ready();
	test_wait();

	if (portid(nl1) != pid1 || portid(nl2) != 0)
		fail("netlink port ids %u %u, want %u 0", portid(nl1),
		     portid(nl2), pid1);
	if (get(nl1, SOL_SOCKET, SO_PROTOCOL) != NETLINK_ROUTE ||
	    get(nl2, SOL_SOCKET, SO_PROTOCOL) != NETLINK_GENERIC ||
	    get(nl2, SOL_SOCKET, SO_TYPE) != SOCK_DGRAM)
		fail("netlink protocol or type changed");
	expect_cloexec(nl1, 1, "nl1");
	len = sizeof(groups);
	if (getsockopt(nl1, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, groups, &len))
		fail("NETLINK_LIST_MEMBERSHIPS: %s", strerror(errno));
	if (groups[0] != (1u << (GROUP_A - 1) | 1u << (GROUP_B - 1)))
		fail("groups %#x, want %#x", groups[0],
		     1u << (GROUP_A - 1) | 1u << (GROUP_B - 1));
	if (get(nl1, SOL_NETLINK, NETLINK_NO_ENOBUFS) != 1 ||
	    get(nl2, SOL_NETLINK, NETLINK_EXT_ACK) != 1)
		fail("netlink options lost");
	ask_links(nl1);

	len = sizeof(la);
	memset(&la, 0, sizeof(la));
	if (getsockname(pk, (struct sockaddr *)&la, &len) ||
	    la.sll_ifindex != lo || la.sll_protocol != htons(ETH_P_IP))
		fail("packet socket: interface %d protocol %#x, want %d %#x",
		     la.sll_ifindex, ntohs(la.sll_protocol), lo, ETH_P_IP);
	if (get(pk, SOL_SOCKET, SO_TYPE) != SOCK_DGRAM ||
	    get(pk, SOL_PACKET, PACKET_AUXDATA) != 1)
		fail("packet socket type or PACKET_AUXDATA lost");
	expect_fl(pk, O_NONBLOCK, O_NONBLOCK, "pk");
	{	/* a datagram on lo goes by the packet socket */
		int u = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in d = { .sin_family = AF_INET, .sin_port = htons(9) };
		char buf[2048];

		inet_pton(AF_INET, "127.0.0.1", &d.sin_addr);
		while (recv(pk, buf, sizeof(buf), 0) > 0)
			;
		if (sendto(u, "hello", 5, 0, (struct sockaddr *)&d, sizeof(d)) != 5)
			fail("sendto: %s", strerror(errno));
		if (poll_fd(pk, POLLIN, 5000) != POLLIN ||
		    recv(pk, buf, sizeof(buf), 0) < 20)
			fail("the packet socket saw nothing");
	}
	pass();
}
