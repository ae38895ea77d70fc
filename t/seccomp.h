/* Seccomp helpers for the seccomp-* tests (musl-gcc has no linux/ headers). */
#include <sys/prctl.h>

#define SC_RET_ALLOW	0x7fff0000u
#define SC_RET_ERRNO(e)	(0x00050000u | (e))
#define SC_RET_KILL	0x80000000u	/* SECCOMP_RET_KILL_PROCESS */
#define SC_TSYNC	1		/* SECCOMP_FILTER_FLAG_TSYNC */
#define SC_LOG		2		/* SECCOMP_FILTER_FLAG_LOG */
#if defined(__x86_64__)
#define SC_ARCH		0xc000003eu
#elif defined(__aarch64__)
#define SC_ARCH		0xc00000b7u
#endif

struct sc_insn { uint16_t code; uint8_t jt, jf; uint32_t k; };
struct sc_prog { unsigned short len; struct sc_insn *insns; };

/* Install a filter that answers syscall nr with action, allows the rest. */
static inline void sc_deny(long nr, uint32_t action, unsigned flags)
{
	struct sc_insn p[] = {
		{ 0x20, 0, 0, 4 },		/* ld arch */
		{ 0x15, 0, 3, SC_ARCH },	/* jeq arch, else allow */
		{ 0x20, 0, 0, 0 },		/* ld nr */
		{ 0x15, 0, 1, (uint32_t)nr },
		{ 0x06, 0, 0, action },
		{ 0x06, 0, 0, SC_RET_ALLOW },
	};
	struct sc_prog prog = { sizeof(p) / sizeof(p[0]), p };

	if (syscall(SYS_seccomp, 1 /* SET_MODE_FILTER */, flags, &prog))
		fail("seccomp filter for syscall %ld: %s", nr, strerror(errno));
}

/* "Seccomp:" and "Seccomp_filters:" of a status file, as "mode/filters". */
static inline void sc_status(const char *path, char *out, size_t size)
{
	char buf[4096], *m, *f;
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
		fail("%s: %s", path, strerror(errno));
	close(fd);
	buf[n] = 0;
	m = strstr(buf, "\nSeccomp:");
	f = strstr(buf, "\nSeccomp_filters:");
	if (!m || !f)
		fail("%s: no Seccomp fields", path);
	snprintf(out, size, "%d/%d", atoi(m + 9), atoi(f + 17));
}

/* Fork a child with a pipe each way (to[1] -> child, child -> from[0]). */
static inline pid_t sc_fork_piped(int to[2], int from[2])
{
	pid_t kid;

	if (pipe(to) || pipe(from))
		fail("pipe: %s", strerror(errno));
	kid = fork();
	if (kid < 0)
		fail("fork: %s", strerror(errno));
	return kid;
}
