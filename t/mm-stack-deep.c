/* A 5 MiB deep stack of frames keeps every frame's data, and the stack still grows afterwards. */
#include "lib.h"
#include <sys/resource.h>

#define FRAME 4096
#define MB (1ul << 20)

static int round;
static unsigned long checked, frames;
static char *top;
static struct vma stack_before;

static uint64_t seed(int depth)
{
	return depth * 7919 + round * 1000003;
}

__attribute__((noinline))
static void bottom(void *buf)
{
	struct vma v;

	if (vma_find((unsigned long)buf, NULL, &v) || strcmp(v.path, "[stack]"))
		fail("deepest frame %p not in [stack]", buf);
	if (round == 1) {
		stack_before = v;
		test_ready();
		test_wait();
		/* the SIGTERM frame may have grown it a little */
		if (vma_find((unsigned long)buf, NULL, &v) ||
		    v.start > stack_before.start || v.end != stack_before.end ||
		    strcmp(v.path, "[stack]"))
			fail("[stack] is %lx-%lx %s, was %lx-%lx", v.start,
			     v.end, v.path, stack_before.start,
			     stack_before.end);
	} else if (v.start >= stack_before.start) {
		fail("[stack] did not grow: %lx", v.start);
	}
}

/* Recurse until 'size' bytes of stack are used, then call bottom(). */
static void recurse(int depth, unsigned long size)
{
	unsigned char buf[FRAME];
	long off;

	if (!depth)
		top = (char *)buf;
	pattern_fill(buf, sizeof(buf), seed(depth));
	frames++;
	if (top - (char *)buf < (long)size)
		recurse(depth + 1, size);
	else
		bottom(buf);
	off = pattern_check(buf, sizeof(buf), seed(depth));
	if (off >= 0)
		fail("round %d frame %d differs at byte %ld", round, depth,
		     off);
	checked++;
}

int main(int argc, char **argv)
{
	struct rlimit rl;

	test_init(argc, argv);
	if (getrlimit(RLIMIT_STACK, &rl))
		fail("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (8ul << 20))
		skip("RLIMIT_STACK below 8 MiB");
	round = 1;
	recurse(0, 5 * MB);	/* the dump happens at the bottom */
	round = 2;
	recurse(0, 7 * MB);	/* beyond what was mapped at the dump */
	if (checked != frames)
		fail("checked %lu of %lu frames", checked, frames);
	pass();
}
