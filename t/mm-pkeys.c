/*
 * Memory protection keys survive restore: the key of a mapping (smaps
 * ProtectionKey), which keys are allocated (a key freed before the dump
 * is the next one pkey_alloc gives after it), and each thread's PKRU:
 * the page stays readable and a write to it still faults with
 * SEGV_PKUERR.  x86 with pku only; skipped elsewhere.
 */
#include "lib.h"
#include <setjmp.h>
#include <sys/mman.h>

#if defined(__x86_64__)
#define MY_SEGV_PKUERR 4

static sigjmp_buf jb;
static volatile int fault_code;

static unsigned rdpkru(void)
{
	unsigned eax, edx;

	asm volatile(".byte 0x0f,0x01,0xee" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

static void wrpkru(unsigned v)
{
	asm volatile(".byte 0x0f,0x01,0xef" : : "a"(v), "c"(0), "d"(0) : "memory");
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	fault_code = si->si_code;
	siglongjmp(jb, 1);
}

/* ProtectionKey of the mapping holding addr, -1 if smaps shows none. */
static long pkey_of(const void *addr)
{
	static char smaps[512 * 1024];
	unsigned long a = (unsigned long)addr, s, e;
	char *line, *next;
	bool in = false;

	if (read_file("/proc/self/smaps", smaps, sizeof(smaps)) < 0)
		fail("read smaps: %s", strerror(errno));
	for (line = smaps; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? (*next = 0, next + 1) : line + strlen(line);
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2)
			in = a >= s && a < e;
		else if (in && !strncmp(line, "ProtectionKey:", 14))
			return atol(line + 14);
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
	long k1, k2, k3;
	unsigned pkru, now;
	char *p;

	test_init(argc, argv);
	k1 = syscall(SYS_pkey_alloc, 0, 0);
	if (k1 < 0)
		skip("no protection keys (pkey_alloc failed)");
	k2 = syscall(SYS_pkey_alloc, 0, 0);
	if (k2 < 0 || syscall(SYS_pkey_free, k1))
		fail("pkey_alloc/free: %s", strerror(errno));
	p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	pattern_fill(p, 2 * PAGE, 7);
	if (syscall(SYS_pkey_mprotect, p, PAGE, PROT_READ | PROT_WRITE, k2))
		fail("pkey_mprotect: %s", strerror(errno));
	pkru = rdpkru() | 2u << (2 * k2);	/* write-disable key k2 */
	wrpkru(pkru);
	if (pkey_of(p) != k2 || pkey_of(p + PAGE) != 0)
		fail("keys %ld/%ld, want %ld/0", pkey_of(p), pkey_of(p + PAGE), k2);
	sigaction(SIGSEGV, &sa, NULL);

	test_ready();
	test_wait();

	now = rdpkru();
	if (now != pkru)
		fail("PKRU %#x, was %#x", now, pkru);
	if (pkey_of(p) != k2 || pkey_of(p + PAGE) != 0)
		fail("keys %ld/%ld after restore, want %ld/0", pkey_of(p),
		     pkey_of(p + PAGE), k2);
	if (pattern_check(p, 2 * PAGE, 7) >= 0)
		fail("contents changed");
	if (!sigsetjmp(jb, 1)) {
		p[0] ^= 1;
		fail("a write to the write-disabled key did not fault");
	}
	wrpkru(pkru);
	if (fault_code != MY_SEGV_PKUERR)
		fail("the write faulted with si_code %d, want SEGV_PKUERR",
		     fault_code);
	k3 = syscall(SYS_pkey_alloc, 0, 0);
	if (k3 != k1)
		fail("pkey_alloc gave %ld after restore, want the freed %ld",
		     k3, k1);
	pass();
}
#else
int main(int argc, char **argv)
{
	test_init(argc, argv);
	skip("protection keys are tested on x86-64 only");
}
#endif
