/* TCP listeners (IPv4, IPv6-only, dual-stack), UDP sockets (bound, connected) a raw ICMP socket, multicast members (IPv4, IPv6) and datagrams queued unread (with their sources, IPv4 and dual-stack IPv6) keep fd, flags, addresses, backlog and options, and work; a listener shared with a child (fork, as pre-forking servers do) stays one socket. */
#include "fdlib.h"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <net/if.h>

#define FD_L4 40
#define FD_L6 41
#define FD_LDUAL 42
#define FD_U1 43
#define FD_U2 44
#define FD_FRESH 45
#define FD_U6 46

static int sock(int fam, int type, int want)
{
	int s = socket(fam, type, 0);

	if (s < 0)
		fail("socket: %s", strerror(errno));
	return fd_move(s, want, "socket");
}

static void opt(int s, int level, int name, int v)
{
	if (setsockopt(s, level, name, &v, sizeof(v)))
		fail("setsockopt %d/%d: %s", level, name, strerror(errno));
}

static int get(int s, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(s, level, name, &v, &len))
		fail("getsockopt %d/%d: %s", level, name, strerror(errno));
	return v;
}

static void expect(int s, int level, int name, int want, const char *what)
{
	int v = get(s, level, name);

	if (v != want)
		fail("%s is %d, want %d", what, v, want);
}

static int port_of(int s)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);

	if (getsockname(s, (struct sockaddr *)&a, &len))
		fail("getsockname: %s", strerror(errno));
	return ntohs(a.ss_family == AF_INET6 ?
		     ((struct sockaddr_in6 *)&a)->sin6_port :
		     ((struct sockaddr_in *)&a)->sin_port);
}

static void bind4(int s, const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &a.sin_addr);
	if (bind_low_port(s, &a, sizeof(a)))
		fail("bind %s: %s", ip, strerror(errno));
}

static void bind6(int s, const char *ip, int port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

	inet_pton(AF_INET6, ip, &a.sin6_addr);
	if (bind_low_port(s, &a, sizeof(a)))
		fail("bind %s: %s", ip, strerror(errno));
}

/* Connect to a listener and accept: the listener works. */
static void try_listener(int l, int fam, const char *ip, const char *what)
{
	struct sockaddr_storage a = { 0 };
	socklen_t len;
	int c = socket(fam, SOCK_STREAM, 0), s;
	char b = 0;

	if (fam == AF_INET) {
		struct sockaddr_in *v = (void *)&a;

		v->sin_family = AF_INET;
		v->sin_port = htons(port_of(l));
		inet_pton(AF_INET, ip, &v->sin_addr);
		len = sizeof(*v);
	} else {
		struct sockaddr_in6 *v = (void *)&a;

		v->sin6_family = AF_INET6;
		v->sin6_port = htons(port_of(l));
		inet_pton(AF_INET6, ip, &v->sin6_addr);
		len = sizeof(*v);
	}
	if (connect(c, (struct sockaddr *)&a, len))
		fail("%s: connect to %s: %s", what, ip, strerror(errno));
	if (poll_fd(l, POLLIN, 5000) != POLLIN)
		fail("%s: nothing to accept", what);
	s = accept(l, NULL, NULL);
	if (s < 0)
		fail("%s: accept: %s", what, strerror(errno));
	if (write(c, "x", 1) != 1 || read(s, &b, 1) != 1 || b != 'x')
		fail("%s: no data through the accepted connection", what);
	close(s);
	close(c);
}

int main(int argc, char **argv)
{
	struct linger lg = { 1, 7 }, lg2;
	struct timeval tv = { 3, 250000 }, tv1, tv2;
	socklen_t len;
	int l4, l6, ld, u1, u2, fr, u6, p[7], sync[2], s, raw, um, um6;
	int lo = if_nametoindex("lo"), mport, mport6, uq, uq6, qport[2];
	pid_t pid;
	char buf[64];
	struct sockaddr_in a;

	test_init(argc, argv);
	l4 = sock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, FD_L4);
	opt(l4, SOL_SOCKET, SO_REUSEADDR, 1);
	opt(l4, SOL_SOCKET, SO_KEEPALIVE, 1);
	opt(l4, IPPROTO_TCP, TCP_KEEPIDLE, 77);
	opt(l4, IPPROTO_TCP, TCP_KEEPINTVL, 11);
	opt(l4, IPPROTO_TCP, TCP_KEEPCNT, 5);
	opt(l4, IPPROTO_TCP, TCP_NODELAY, 1);
	opt(l4, IPPROTO_TCP, TCP_DEFER_ACCEPT, 3);
	opt(l4, IPPROTO_IP, IP_TOS, 0x10);
	opt(l4, SOL_SOCKET, SO_RCVBUF, 100000);
	opt(l4, SOL_SOCKET, SO_SNDBUF, 70000);
	if (setsockopt(l4, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) ||
	    setsockopt(l4, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		fail("setsockopt: %s", strerror(errno));
	bind4(l4, "127.0.0.1", 0);
	if (listen(l4, 17))
		fail("listen: %s", strerror(errno));

	l6 = sock(AF_INET6, SOCK_STREAM, FD_L6);
	opt(l6, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	opt(l6, SOL_SOCKET, SO_REUSEPORT, 1);
	bind6(l6, "::1", 0);
	if (listen(l6, 5))
		fail("listen: %s", strerror(errno));
	ld = sock(AF_INET6, SOCK_STREAM, FD_LDUAL);
	opt(ld, IPPROTO_IPV6, IPV6_V6ONLY, 0);
	bind6(ld, "::", 0);
	if (listen(ld, 9))
		fail("listen: %s", strerror(errno));

	u1 = sock(AF_INET, SOCK_DGRAM, FD_U1);
	bind4(u1, "127.0.0.1", 0);
	u2 = sock(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, FD_U2);
	opt(u2, IPPROTO_IP, IP_TTL, 33);
	opt(u2, SOL_SOCKET, SO_BROADCAST, 1);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port_of(u1));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(u2, (struct sockaddr *)&a, sizeof(a)))
		fail("connect: %s", strerror(errno));
	fr = sock(AF_INET, SOCK_STREAM, FD_FRESH);
	raw = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (raw < 0)
		fail("raw socket: %s", strerror(errno));
	{
		struct sockaddr_in ra = { .sin_family = AF_INET };

		inet_pton(AF_INET, "127.0.0.1", &ra.sin_addr);
		if (bind(raw, (struct sockaddr *)&ra, sizeof(ra)))
			fail("raw bind: %s", strerror(errno));
	}
	u6 = sock(AF_INET6, SOCK_DGRAM, FD_U6);
	opt(u6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 9);
	bind6(u6, "::1", 0);
	shutdown(u6, SHUT_RD);	/* ENOTCONN, but reads end from now on */
	{	/* datagrams left unread: uq (IPv4), uq6 (dual-stack IPv6) */
		struct sockaddr_in qa = { .sin_family = AF_INET };
		struct sockaddr_in6 qa6 = { .sin6_family = AF_INET6 }, to6;
		int snd = socket(AF_INET, SOCK_DGRAM, 0), snd6 = socket(AF_INET6, SOCK_DGRAM, 0);
		int off = 0;

		inet_pton(AF_INET, "127.0.0.1", &qa.sin_addr);
		uq = socket(AF_INET, SOCK_DGRAM, 0);
		uq6 = socket(AF_INET6, SOCK_DGRAM, 0);
		if (uq < 0 || uq6 < 0 || bind_low_port(uq, &qa, sizeof(qa)) ||
		    setsockopt(uq6, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) ||
		    bind_low_port(uq6, &qa6, sizeof(qa6)))
			fail("uq: %s", strerror(errno));
		to6 = qa6;
		inet_pton(AF_INET6, "::1", &to6.sin6_addr);
		if (sendto(snd, "dg-one", 6, 0, (struct sockaddr *)&qa, sizeof(qa)) != 6 ||
		    sendto(u1, "dg-two!", 7, 0, (struct sockaddr *)&qa, sizeof(qa)) != 7 ||
		    sendto(snd6, "dg-v6", 5, 0, (struct sockaddr *)&to6, sizeof(to6)) != 5)
			fail("sendto: %s", strerror(errno));
		qa.sin_port = qa6.sin6_port;
		if (sendto(snd, "dg-v4", 5, 0, (struct sockaddr *)&qa, sizeof(qa)) != 5)
			fail("sendto: %s", strerror(errno));
		qport[0] = port_of(snd);
		qport[1] = port_of(snd6);
		close(snd);
		close(snd6);
		if (poll_fd(uq, POLLIN, 5000) != POLLIN || poll_fd(uq6, POLLIN, 5000) != POLLIN)
			fail("nothing queued");
		usleep(20000);
	}
	{	/* multicast members on lo */
		struct sockaddr_in ma = { .sin_family = AF_INET };
		struct sockaddr_in6 ma6 = { .sin6_family = AF_INET6 };
		struct ip_mreqn mr = { .imr_ifindex = lo };
		struct ipv6_mreq mr6 = { .ipv6mr_interface = lo };

		um = socket(AF_INET, SOCK_DGRAM, 0);
		um6 = socket(AF_INET6, SOCK_DGRAM, 0);
		inet_pton(AF_INET, "239.77.1.2", &mr.imr_multiaddr);
		inet_pton(AF_INET6, "ff12::77:12", &mr6.ipv6mr_multiaddr);
		if (um < 0 || um6 < 0 || bind_low_port(um, &ma, sizeof(ma)) ||
		    bind_low_port(um6, &ma6, sizeof(ma6)) ||
		    setsockopt(um, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) ||
		    setsockopt(um6, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr6, sizeof(mr6)))
			fail("multicast: %s", strerror(errno));
		mport = ntohs(ma.sin_port);
		mport6 = ntohs(ma6.sin6_port);
	}
	len = sizeof(tv1);
	if (getsockopt(l4, SOL_SOCKET, SO_RCVTIMEO, &tv1, &len))
		fail("SO_RCVTIMEO: %s", strerror(errno));
	p[0] = port_of(l4), p[1] = port_of(l6), p[2] = port_of(ld);
	p[3] = port_of(u1), p[4] = port_of(u2), p[6] = port_of(u6);
	sync_open(sync);
	pid = xfork();
	if (!pid) {	/* a worker sharing the IPv4 listener */
		child_ready(sync);
		test_wait();
		if (poll_fd(l4, POLLIN, 10000) != POLLIN)
			fail("child: nothing to accept");
		s = accept(l4, NULL, NULL);
		if (s < 0 || read(s, buf, 1) != 1 || buf[0] != 'w')
			fail("child: accept on the shared listener: %s",
			     strerror(errno));
		exit(50);
	}
	children_ready(sync, 1);
	test_ready();
	test_wait();
	if (!same_file(getpid(), l4, pid, l4))
		fail("the listener of parent and child is not one socket");
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	{
		int c = socket(AF_INET, SOCK_STREAM, 0);

		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_port = htons(p[0]);
		inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
		if (connect(c, (struct sockaddr *)&a, sizeof(a)) ||
		    write(c, "w", 1) != 1)
			fail("connect: %s", strerror(errno));
		child_reap(pid, 50);
		close(c);
	}

	if (port_of(l4) != p[0] || port_of(l6) != p[1] || port_of(ld) != p[2] ||
	    port_of(u1) != p[3] || port_of(u2) != p[4] || port_of(u6) != p[6] ||
	    port_of(fr) != 0)
		fail("ports changed");
	expect_fl(l4, O_NONBLOCK, O_NONBLOCK, "l4");
	expect_fl(u1, O_NONBLOCK, 0, "u1");
	expect(l4, SOL_SOCKET, SO_ACCEPTCONN, 1, "l4 listening");
	expect(l4, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
	expect(l4, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
	expect(l4, IPPROTO_TCP, TCP_KEEPIDLE, 77, "TCP_KEEPIDLE");
	expect(l4, IPPROTO_TCP, TCP_KEEPINTVL, 11, "TCP_KEEPINTVL");
	expect(l4, IPPROTO_TCP, TCP_KEEPCNT, 5, "TCP_KEEPCNT");
	expect(l4, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
	expect(l4, IPPROTO_IP, IP_TOS, 0x10, "IP_TOS");
	expect(l4, SOL_SOCKET, SO_RCVBUF, 200000, "SO_RCVBUF");
	expect(l4, SOL_SOCKET, SO_SNDBUF, 140000, "SO_SNDBUF");
	if (get(l4, IPPROTO_TCP, TCP_DEFER_ACCEPT) <= 0)
		fail("TCP_DEFER_ACCEPT lost");
	len = sizeof(lg2);
	if (getsockopt(l4, SOL_SOCKET, SO_LINGER, &lg2, &len) ||
	    lg2.l_onoff != 1 || lg2.l_linger != 7)
		fail("SO_LINGER lost");
	len = sizeof(tv2);
	if (getsockopt(l4, SOL_SOCKET, SO_RCVTIMEO, &tv2, &len) ||
	    tv2.tv_sec != tv1.tv_sec || tv2.tv_usec != tv1.tv_usec)
		fail("SO_RCVTIMEO lost: %ld.%06ld", (long)tv2.tv_sec,
		     (long)tv2.tv_usec);
	expect(l6, IPPROTO_IPV6, IPV6_V6ONLY, 1, "l6 IPV6_V6ONLY");
	expect(l6, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
	expect(ld, IPPROTO_IPV6, IPV6_V6ONLY, 0, "ld IPV6_V6ONLY");
	expect(u2, IPPROTO_IP, IP_TTL, 33, "IP_TTL");
	expect(u2, SOL_SOCKET, SO_BROADCAST, 1, "SO_BROADCAST");
	expect(u6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 9, "IPV6_UNICAST_HOPS");
	if (!(poll_fd(u6, POLLRDHUP, 0) & POLLRDHUP))
		fail("u6 is no longer shut down for reading");
	if (poll_fd(u1, POLLRDHUP, 0) & POLLRDHUP)
		fail("u1 is shut down for reading");
	expect(fr, SOL_SOCKET, SO_TYPE, SOCK_STREAM, "fresh socket type");
	{	/* the queued datagrams, in order, from where they came */
		static const struct { int sock; const char *data; int port; int v4; } want[] = {
			{ 0, "dg-one", 0, 1 }, { 0, "dg-two!", 3, 1 },
			{ 1, "dg-v6", 1, 0 }, { 1, "dg-v4", 0, 1 },
		};
		for (int i = 0; i < 4; i++) {
			struct sockaddr_in6 from;
			socklen_t fl = sizeof(from);
			int q = want[i].sock ? uq6 : uq, fp;
			ssize_t n = recvfrom(q, buf, sizeof(buf), MSG_DONTWAIT,
					     (struct sockaddr *)&from, &fl);

			if (n != (ssize_t)strlen(want[i].data) ||
			    memcmp(buf, want[i].data, n))
				fail("queued datagram %d: got %zd bytes", i, n);
			fp = ntohs(from.sin6_port);	/* same offset in sockaddr_in */
			if (fp != (want[i].port == 3 ? p[3] : qport[want[i].port]))
				fail("queued datagram %d from port %d", i, fp);
		}
		if (recv(uq, buf, 1, MSG_DONTWAIT) >= 0 || recv(uq6, buf, 1, MSG_DONTWAIT) >= 0)
			fail("more datagrams than were queued");
	}
	{	/* the members get what is sent to their groups on lo */
		struct sockaddr_in ga = { .sin_family = AF_INET, .sin_port = htons(mport) };
		struct sockaddr_in6 ga6 = { .sin6_family = AF_INET6, .sin6_port = htons(mport6) };
		struct ip_mreqn mi = { .imr_ifindex = lo };
		int t = socket(AF_INET, SOCK_DGRAM, 0), t6 = socket(AF_INET6, SOCK_DGRAM, 0);

		inet_pton(AF_INET, "239.77.1.2", &ga.sin_addr);
		inet_pton(AF_INET6, "ff12::77:12", &ga6.sin6_addr);
		struct { struct group_filter f; struct sockaddr_storage s[4]; } gf;
		socklen_t gl = sizeof(gf);

		if (setsockopt(t, IPPROTO_IP, IP_MULTICAST_IF, &mi, sizeof(mi)) ||
		    sendto(t, "m4", 2, 0, (struct sockaddr *)&ga, sizeof(ga)) != 2)
			fail("multicast send: %s", strerror(errno));
		if (poll_fd(um, POLLIN, 5000) != POLLIN || recv(um, buf, sizeof(buf), 0) != 2 ||
		    memcmp(buf, "m4", 2))
			fail("the IPv4 multicast member got nothing");
		/* lo has no IPv6 multicast route: ask the socket instead */
		memset(&gf, 0, sizeof(gf));
		gf.f.gf_interface = lo;
		memcpy(&gf.f.gf_group, &ga6, sizeof(ga6));
		if (getsockopt(um6, IPPROTO_IPV6, MCAST_MSFILTER, &gf, &gl))
			fail("the IPv6 socket is not a member of its group: %s",
			     strerror(errno));
		close(t);
		close(t6);
	}
	expect(raw, SOL_SOCKET, SO_TYPE, SOCK_RAW, "raw socket type");
	expect(raw, SOL_SOCKET, SO_PROTOCOL, IPPROTO_ICMP, "raw socket protocol");
	{	/* it is bound to 127.0.0.1 and sees ICMP: an echo to itself */
		struct sockaddr_in ra;
		socklen_t rl = sizeof(ra);
		unsigned char ping[8] = { 8, 0, 0xf7, 0xfe, 0, 1, 0, 0 };
		char rb[256];

		if (getsockname(raw, (struct sockaddr *)&ra, &rl) ||
		    ra.sin_addr.s_addr != htonl(INADDR_LOOPBACK))
			fail("raw socket not bound to 127.0.0.1");
		if (sendto(raw, ping, sizeof(ping), 0, (struct sockaddr *)&ra, rl) != 8 ||
		    poll_fd(raw, POLLIN, 5000) != POLLIN || recv(raw, rb, sizeof(rb), 0) < 28)
			fail("raw socket: no ICMP seen: %s", strerror(errno));
	}
	if (fdinfo_num(l4, "pos", 10) || !strstr(fd_link(l4, buf, sizeof(buf)), "socket:"))
		fail("l4 is not a socket");

	try_listener(l4, AF_INET, "127.0.0.1", "IPv4 listener");
	try_listener(l6, AF_INET6, "::1", "IPv6 listener");
	try_listener(ld, AF_INET, "127.0.0.1", "dual-stack listener (IPv4)");
	try_listener(ld, AF_INET6, "::1", "dual-stack listener (IPv6)");
	{	/* l6 is IPv6 only: IPv4 on its port is refused */
		int c = socket(AF_INET, SOCK_STREAM, 0);

		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_port = htons(p[1]);
		inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
		if (!connect(c, (struct sockaddr *)&a, sizeof(a)))
			fail("IPv4 connect to the IPv6-only listener worked");
		close(c);
	}
	/* the connected UDP socket still sends to u1, from its own port */
	if (send(u2, "ping", 4, 0) != 4)
		fail("send: %s", strerror(errno));
	{
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n;

		if (poll_fd(u1, POLLIN, 5000) != POLLIN)
			fail("u1 got nothing");
		n = recvfrom(u1, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n != 4 || memcmp(buf, "ping", 4) || ntohs(from.sin_port) != p[4])
			fail("u1 got %zd bytes from port %d", n, ntohs(from.sin_port));
		if (sendto(u1, "pong", 4, 0, (struct sockaddr *)&from, fl) != 4 ||
		    poll_fd(u2, POLLIN, 5000) != POLLIN ||
		    recv(u2, buf, sizeof(buf), 0) != 4 || memcmp(buf, "pong", 4))
			fail("u2 got no answer");
	}
	pass();
}
