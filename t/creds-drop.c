/* A root process that dropped to other ids (real/effective/saved/fs differ), groups, a few kept capabilities (effective, permitted, inheritable, ambient), a smaller bounding set, securebits and no_new_privs gets exactly those back, in every thread, and stays unable to do what it gave up. */
#include "lib.h"
#include <grp.h>
#include <netinet/in.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#define CAP_CHOWN 0
#define CAP_KILL 5
#define CAP_NET_BIND_SERVICE 10
#define CAP_SYS_ADMIN 21
#define CAP_MKNOD 27
#define BIT(c) (1u << (c))

struct caphead { uint32_t version; int pid; };
struct capdata { uint32_t eff, prm, inh; };

static const char *const keys[] = { "Uid", "Gid", "Groups", "CapInh", "CapPrm",
	"CapEff", "CapBnd", "CapAmb", "NoNewPrivs" };
#define NKEYS (int)(sizeof(keys) / sizeof(keys[0]))

/* The credential lines of a /proc status file, joined. */
static void cred_lines(const char *path, char *out, size_t size)
{
	char buf[4096], *p;
	int fd = open(path, O_RDONLY), i;
	ssize_t n;

	if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
		fail("%s: %s", path, strerror(errno));
	close(fd);
	buf[n] = 0;
	out[0] = 0;
	for (i = 0; i < NKEYS; i++) {
		char key[32];

		snprintf(key, sizeof(key), "\n%s:", keys[i]);
		p = strstr(buf, key);
		if (!p)
			fail("%s: no %s", path, keys[i]);
		strncat(out, p + 1, strcspn(p + 1, "\n") + 1);
	}
	(void)size;
}

static volatile pid_t worker_tid;

static void *worker(void *arg)
{
	sigset_t all;

	(void)arg;
	sigfillset(&all);	/* SIGTERM is for the main thread */
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	worker_tid = syscall(SYS_gettid);
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	struct caphead h = { 0x20080522, 0 };
	struct capdata d[2] = { { BIT(CAP_NET_BIND_SERVICE),
				  BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_KILL),
				  BIT(CAP_NET_BIND_SERVICE) }, { 0, 0, 0 } }, now[2];
	const gid_t groups[2] = { 1234, 5678 };
	gid_t g[8];
	uid_t r = 0, e = 0, s = 0;
	gid_t gr = 0, ge = 0, gs = 0;
	char before[1024], after[1024], thread[1024], path[64];
	struct sockaddr_in sin = { AF_INET, htons(1023), { htonl(INADDR_LOOPBACK) }, { 0 } };
	pthread_t t;
	long secbits;
	int fd, n;

	test_init(argc, argv);
	if (getuid() != 0)
		skip("needs root");
	if (prctl(PR_SET_SECUREBITS, 0x10 | 0x01 | 0x02) ||	/* KEEP_CAPS, NOROOT+LOCKED */
	    prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN) ||
	    prctl(PR_CAPBSET_DROP, CAP_MKNOD) ||
	    setgroups(2, groups) ||
	    setresgid(65534, 65533, 65532) || setresuid(65534, 65533, 65532))
		fail("dropping privileges: %s", strerror(errno));
	setfsuid(65532);
	setfsgid(65532);
	if (syscall(SYS_capset, &h, d) ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		fail("capabilities: %s", strerror(errno));
	secbits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	if (pthread_create(&t, NULL, worker, NULL))
		fail("pthread_create");
	while (!worker_tid)
		sleep_us(1000);
	cred_lines("/proc/self/status", before, sizeof(before));
	test_ready();
	test_wait();

	cred_lines("/proc/self/status", after, sizeof(after));
	if (strcmp(before, after))
		fail("credentials changed:\n%s---- now:\n%s", before, after);
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", worker_tid);
	cred_lines(path, thread, sizeof(thread));
	if (strcmp(before, thread))
		fail("the second thread has other credentials:\n%s", thread);
	if (getresuid(&r, &e, &s) || getresgid(&gr, &ge, &gs) ||
	    r != 65534 || e != 65533 || s != 65532 || gr != 65534 ||
	    ge != 65533 || gs != 65532)
		fail("ids %u %u %u / %u %u %u", r, e, s, gr, ge, gs);
	if (setfsuid(-1) != 65532 || setfsgid(-1) != 65532)
		fail("fsuid/fsgid not kept");
	n = getgroups(8, g);
	if (n != 2 || g[0] != 1234 || g[1] != 5678)
		fail("groups: %d of them", n);
	if (syscall(SYS_capget, &h, now) || memcmp(now, d, sizeof(d)))
		fail("capability sets %x %x %x, want %x %x %x", now[0].eff,
		     now[0].prm, now[0].inh, d[0].eff, d[0].prm, d[0].inh);
	if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0 ||
	    prctl(PR_CAPBSET_READ, CAP_MKNOD, 0, 0, 0) != 0 ||
	    prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0) != 1)
		fail("bounding set not kept");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0) != 1 ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0) != 0)
		fail("ambient set not kept");
	if (prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) != secbits ||
	    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		fail("securebits %d (want %ld) or no_new_privs lost",
		     prctl(PR_GET_SECUREBITS, 0, 0, 0, 0), secbits);

	/* still dropped: no way back to root, no signal to root's pid 1 */
	if (!setresuid(0, 0, 0) || errno != EPERM)
		fail("setresuid(0) did not fail with EPERM");
	if (!setgroups(0, NULL) || errno != EPERM)
		fail("setgroups did not fail with EPERM");
	if (!kill(1, 0) || errno != EPERM)
		fail("signalling pid 1 did not fail with EPERM");
	/* and the capability it kept works */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) &&
	    errno == EACCES)
		fail("binding port 1023 with CAP_NET_BIND_SERVICE: %s",
		     strerror(errno));
	if (fd >= 0)
		close(fd);
	pass();
}
