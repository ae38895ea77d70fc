/* Signal handlers, flags, masks, SIG_IGN and the sigaltstack are restored and work. */
#include "lib.h"

#define FLAGS (int)(SA_SIGINFO | SA_RESTART | SA_ONSTACK | SA_NODEFER | \
		    SA_RESETHAND | SA_NOCLDSTOP)

enum { INFO, PLAIN, IGN, DFL };
#define ALTSZ (64 * 1024)

struct act {
	int sig;
	int flags;
	int mask[3];		/* signals in sa_mask, 0-terminated */
	int handler;
};

static const struct act acts[] = {
	{ SIGUSR1, SA_SIGINFO | SA_RESTART, { SIGUSR2, SIGHUP }, INFO },
	{ SIGUSR2, SA_ONSTACK, { SIGQUIT }, PLAIN },
	{ SIGHUP, SA_NODEFER | SA_RESETHAND, { SIGALRM }, PLAIN },
	{ SIGALRM, SA_SIGINFO | SA_ONSTACK | SA_RESTART, { SIGWINCH, SIGURG },
	  INFO },
	{ SIGCHLD, SA_NOCLDSTOP, { 0 }, PLAIN },
	{ SIGINT, 0, { 0 }, IGN },
	{ SIGPIPE, 0, { 0 }, IGN },
	{ SIGQUIT, 0, { SIGUSR1 }, DFL },
};

#define NACTS (sizeof(acts) / sizeof(acts[0]))

static char altstack[ALTSZ] __attribute__((aligned(16)));
static volatile int got_sig, got_code;
static volatile uintptr_t got_sp;
static volatile uint64_t got_blocked;

static void note(int sig)
{
	sigset_t cur;
	int local;

	got_sig = sig;
	got_sp = (uintptr_t)&local;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	got_blocked = sigset_bits(&cur);
}

static void plain(int sig)
{
	note(sig);
}

static void info(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	note(sig);
	got_code = si->si_code;
}

static void want_action(const struct act *a, struct sigaction *sa)
{
	int i;

	memset(sa, 0, sizeof(*sa));
	sigemptyset(&sa->sa_mask);
	for (i = 0; i < 3 && a->mask[i]; i++)
		sigaddset(&sa->sa_mask, a->mask[i]);
	sa->sa_flags = a->flags;
	if (a->handler == INFO)
		sa->sa_sigaction = info;
	else
		sa->sa_handler = a->handler == PLAIN ? plain :
				 a->handler == IGN ? SIG_IGN : SIG_DFL;
}

static void check_action(const struct act *a)
{
	struct sigaction want, got;

	want_action(a, &want);
	if (sigaction(a->sig, NULL, &got))
		fail("sigaction(%d): %s", a->sig, strerror(errno));
	if (got.sa_handler != want.sa_handler)
		fail("signal %d: handler %p, want %p", a->sig,
		     (void *)got.sa_handler, (void *)want.sa_handler);
	if ((got.sa_flags & FLAGS) != want.sa_flags)
		fail("signal %d: flags %#x, want %#x", a->sig,
		     got.sa_flags & FLAGS, want.sa_flags);
	if (sigset_bits(&got.sa_mask) != sigset_bits(&want.sa_mask))
		fail("signal %d: sa_mask %#llx, want %#llx", a->sig,
		     (unsigned long long)sigset_bits(&got.sa_mask),
		     (unsigned long long)sigset_bits(&want.sa_mask));
}

static uint64_t bit(int sig)
{
	return 1ull << (sig - 1);
}

/* Raise sig; check the handler ran, where, and with which mask. */
static void fire(int sig, bool onstack, uint64_t must_block, uint64_t not_block)
{
	bool on;

	got_sig = 0;
	raise(sig);
	if (got_sig != sig)
		fail("handler for %d did not run", sig);
	on = got_sp >= (uintptr_t)altstack &&
	     got_sp < (uintptr_t)altstack + ALTSZ;
	if (on != onstack)
		fail("handler for %d ran %s the alternate stack (sp %#lx)",
		     sig, on ? "on" : "off", (unsigned long)got_sp);
	if ((got_blocked & must_block) != must_block ||
	    (got_blocked & not_block))
		fail("handler for %d ran with mask %#llx", sig,
		     (unsigned long long)got_blocked);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	stack_t ss;
	unsigned i;

	test_init(argc, argv);
	for (i = 0; i < NACTS; i++) {
		want_action(&acts[i], &sa);
		if (sigaction(acts[i].sig, &sa, NULL))
			fail("sigaction(%d): %s", acts[i].sig, strerror(errno));
		check_action(&acts[i]);
	}
	ss.ss_sp = altstack;
	ss.ss_size = ALTSZ;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL))
		fail("sigaltstack: %s", strerror(errno));

	test_ready();
	test_wait();

	for (i = 0; i < NACTS; i++)
		check_action(&acts[i]);
	memset(&ss, 0xff, sizeof(ss));
	if (sigaltstack(NULL, &ss))
		fail("sigaltstack: %s", strerror(errno));
	if (ss.ss_sp != altstack || ss.ss_size != ALTSZ || ss.ss_flags != 0)
		fail("sigaltstack %p size %zu flags %#x, want %p %d 0",
		     ss.ss_sp, ss.ss_size, ss.ss_flags, (void *)altstack,
		     ALTSZ);

	fire(SIGUSR1, false, bit(SIGUSR1) | bit(SIGUSR2) | bit(SIGHUP), 0);
	if (got_code != SI_TKILL && got_code != SI_USER)
		fail("SIGUSR1 si_code %d", got_code);
	fire(SIGUSR2, true, bit(SIGUSR2) | bit(SIGQUIT), 0);
	fire(SIGALRM, true, bit(SIGALRM) | bit(SIGWINCH) | bit(SIGURG), 0);
	fire(SIGCHLD, false, bit(SIGCHLD), 0);
	fire(SIGHUP, false, bit(SIGALRM), bit(SIGHUP));	/* SA_NODEFER */
	if (sigaction(SIGHUP, NULL, &sa) || sa.sa_handler != SIG_DFL)
		fail("SA_RESETHAND did not reset SIGHUP");
	raise(SIGINT);		/* ignored, or we die here */
	raise(SIGPIPE);
	pass();
}
