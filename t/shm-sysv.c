/* System V shared memory attached by a parent and its child: a private segment of odd size both write, and a keyed one the child also attaches read-only (and the parent made read-only with mprotect, which it can undo), both removed (IPC_RMID) so that none outlives the test; ids, modes, addresses, attach counts and contents come back, the key stays free, and a write in one process is seen in the other. */
#include "lib.h"
#include <sys/mman.h>
#include <sys/shm.h>

#define A_SIZE (3 * 4096 + 100)
#define B_SIZE (2 * 4096)
#define SEED_A 0x5a5a1234
#define SEED_B 0x77aa55
#define C_OFF 8192		/* the child's part of A, before the dump */
#define PING (3 * 4096)		/* after restore: parent -> child */
#define PONG (3 * 4096 + 8)	/* after restore: child -> parent */

static int ida, idb;
static key_t keyb;
static unsigned char *a, *b;

static void check_seg(int id, size_t size, int mode, int nattch, bool dest)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds))
		fail("shmctl(%d): %s", id, strerror(errno));
	if (ds.shm_segsz != size || (int)(ds.shm_perm.mode & 0777) != mode ||
	    (int)ds.shm_nattch != nattch ||
	    !(ds.shm_perm.mode & SHM_DEST) != !dest)
		fail("segment %d: size %zu mode %o nattch %d, want %zu %o %d%s",
		     id, (size_t)ds.shm_segsz, (unsigned)ds.shm_perm.mode,
		     (int)ds.shm_nattch, size, mode, nattch,
		     dest ? " removed" : "");
}

static void check_map(const void *p, const char *prot)
{
	struct vma v;

	if (vma_find((unsigned long)p, NULL, &v) || strncmp(v.path, "/SYSV", 5) ||
	    strncmp(v.prot, prot, 3))
		fail("%p is \"%s\" %s, want a /SYSV mapping %s", p, v.path,
		     v.prot, prot);
}

static void check_contents(void)
{
	long off = pattern_check(a, C_OFF, SEED_A);

	if (off >= 0)
		fail("segment A differs at %ld", off);
	if ((off = pattern_check(a + C_OFF, PING - C_OFF, SEED_A + 1)) >= 0)
		fail("segment A (the child's part) differs at %ld", C_OFF + off);
	if ((off = pattern_check(b, B_SIZE, SEED_B)) >= 0)
		fail("segment B differs at %ld", off);
}

static volatile uint64_t *word(size_t off)
{
	return (volatile uint64_t *)(a + off);
}

static void child(int sync[2])
{
	if (!(b = shmat(idb, NULL, SHM_RDONLY)) || b == (void *)-1)
		fail("child: shmat B: %s", strerror(errno));
	pattern_fill(a + C_OFF, PING - C_OFF, SEED_A + 1);
	child_ready(sync);
	test_wait();
	check_map(a, "rw-");
	check_map(b, "r--");
	if (!mprotect(b, B_SIZE, PROT_READ | PROT_WRITE))
		fail("child: the read-only attachment became writable");
	while (*word(PING) != 0x1111)	/* the parent wrote it after restore */
		sleep_us(1000);
	check_contents();
	*word(PONG) = 0x2222;
	exit(41);
}

int main(int argc, char **argv)
{
	int sync[2];
	pid_t pid;

	test_init(argc, argv);
	keyb = 0x43520000 | (mono_ns() & 0xffff);
	ida = shmget(IPC_PRIVATE, A_SIZE, IPC_CREAT | 0600);
	while ((idb = shmget(keyb, B_SIZE, IPC_CREAT | IPC_EXCL | 0640)) < 0 &&
	       errno == EEXIST)
		keyb++;
	if (ida < 0 || idb < 0)
		fail("shmget: %s", strerror(errno));
	a = shmat(ida, NULL, 0);
	b = shmat(idb, NULL, 0);
	if (a == (void *)-1 || b == (void *)-1)
		fail("shmat: %s", strerror(errno));
	if (shmctl(ida, IPC_RMID, NULL))
		fail("IPC_RMID: %s", strerror(errno));
	pattern_fill(a, C_OFF, SEED_A);
	pattern_fill(b, B_SIZE, SEED_B);
	if (mprotect(b, B_SIZE, PROT_READ))
		fail("mprotect: %s", strerror(errno));
	sync_open(sync);
	pid = xfork();
	if (!pid)
		child(sync);
	children_ready(sync, 1);
	if (shmctl(idb, IPC_RMID, NULL))	/* once the child attached it */
		fail("IPC_RMID: %s", strerror(errno));
	test_ready();
	test_wait();

	check_map(a, "rw-");
	check_map(b, "r--");
	if (mprotect(b, B_SIZE, PROT_READ | PROT_WRITE))	/* attached rw */
		fail("mprotect B back to read-write: %s", strerror(errno));
	check_map(b, "rw-");
	check_contents();
	check_seg(ida, A_SIZE, 0600, 2, true);
	check_seg(idb, B_SIZE, 0640, 3, true);
	if (shmget(keyb, 0, 0) >= 0 || errno != ENOENT)
		fail("key %#x is taken after restore", (unsigned)keyb);
	*word(PING) = 0x1111;
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	child_reap(pid, 41);
	if (*word(PONG) != 0x2222)
		fail("the child's write after restore is not seen");
	check_seg(ida, A_SIZE, 0600, 1, true);
	check_seg(idb, B_SIZE, 0640, 1, true);
	pass();
}
