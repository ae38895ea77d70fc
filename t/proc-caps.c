/* Capability sets (permitted, effective, inheritable, ambient, bounding) come back as the process had them, in every thread, not as cr's. */
#include "lib.h"
#include <sys/prctl.h>

/* <linux/capability.h>, which musl-gcc does not see */
#define CAP_CHOWN		0
#define CAP_KILL		5
#define CAP_NET_BIND_SERVICE	10
#define CAP_NET_RAW		13
#define CAP_SYS_PTRACE		19
#define CAP_SYS_BOOT		22
#define CAP_VERSION_3		0x20080522
struct cap_head { uint32_t version; int pid; };
struct cap_data { uint32_t effective, permitted, inheritable; };

#define BIT(c) (1ULL << (c))

struct caps {
	uint64_t eff, prm, inh;
};

static struct caps get_caps(pid_t tid)
{
	struct cap_head h = { CAP_VERSION_3, tid };
	struct cap_data d[2];
	struct caps c = { 0, 0, 0 };

	if (syscall(SYS_capget, &h, d))
		fail("capget: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		c.eff |= (uint64_t)d[i].effective << 32 * i;
		c.prm |= (uint64_t)d[i].permitted << 32 * i;
		c.inh |= (uint64_t)d[i].inheritable << 32 * i;
	}
	return c;
}

static void set_caps(struct caps c)
{
	struct cap_head h = { CAP_VERSION_3, 0 };
	struct cap_data d[2];

	for (int i = 0; i < 2; i++) {
		d[i].effective = c.eff >> 32 * i;
		d[i].permitted = c.prm >> 32 * i;
		d[i].inheritable = c.inh >> 32 * i;
	}
	if (syscall(SYS_capset, &h, d))
		fail("capset: %s", strerror(errno));
}

static struct caps want;
static volatile pid_t other_tid;
static volatile int stop;

static void check(pid_t tid, const char *who)
{
	struct caps c = get_caps(tid);

	if (c.eff != want.eff || c.prm != want.prm || c.inh != want.inh)
		fail("%s: eff %llx prm %llx inh %llx, want %llx %llx %llx", who,
		     (unsigned long long)c.eff, (unsigned long long)c.prm,
		     (unsigned long long)c.inh, (unsigned long long)want.eff,
		     (unsigned long long)want.prm, (unsigned long long)want.inh);
}

static void *thread(void *arg)
{
	(void)arg;
	other_tid = syscall(SYS_gettid);
	while (!stop)
		usleep(1000);
	/* ambient and bounding sets are per thread too */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0) != 1 ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0) != 0)
		fail("thread: ambient set not as it was");
	if (prctl(PR_CAPBSET_READ, CAP_SYS_BOOT, 0, 0, 0) != 0)
		fail("thread: CAP_SYS_BOOT is back in the bounding set");
	stop = 2;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th;

	test_init(argc, argv);
	want = get_caps(0);
	if (!(want.prm & BIT(CAP_NET_RAW)) || !(want.prm & BIT(CAP_NET_BIND_SERVICE)))
		fail("needs root (CAP_NET_RAW, CAP_NET_BIND_SERVICE)");
	/* drop a few, make one inheritable and ambient, shrink the bounding set */
	if (prctl(PR_CAPBSET_DROP, CAP_SYS_BOOT, 0, 0, 0))
		fail("PR_CAPBSET_DROP: %s", strerror(errno));
	want.prm &= ~(BIT(CAP_NET_RAW) | BIT(CAP_SYS_PTRACE));
	want.eff &= ~(BIT(CAP_NET_RAW) | BIT(CAP_SYS_PTRACE) | BIT(CAP_CHOWN));
	want.inh = BIT(CAP_NET_BIND_SERVICE);
	set_caps(want);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0))
		fail("PR_CAP_AMBIENT_RAISE: %s", strerror(errno));
	block_sigterm();	/* the thread inherits it */
	if (pthread_create(&th, NULL, thread, NULL))
		fail("pthread_create");
	while (!other_tid)
		usleep(1000);
	check(0, "before");

	test_ready();
	test_wait();

	check(0, "main thread");
	check(other_tid, "other thread");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0) != 1)
		fail("main thread: CAP_NET_BIND_SERVICE not ambient");
	if (prctl(PR_CAPBSET_READ, CAP_SYS_BOOT, 0, 0, 0) != 0)
		fail("main thread: CAP_SYS_BOOT is back in the bounding set");
	stop = 1;
	pthread_join(th, NULL);
	if (stop != 2)
		fail("the thread did not check");
	pass();
}
