/*
 * A process with a userfaultfd and a range registered with it is refused
 * at dump, naming userfaultfd; it goes on untouched.
 */
#include "lib.h"
#include <sys/ioctl.h>
#include <sys/mman.h>

#define MY_UFFDIO_API 0xc018aa3ful	/* _IOWR(0xAA, 0x3F, 24 bytes) */
#define MY_UFFDIO_REGISTER 0xc020aa00ul	/* _IOWR(0xAA, 0x00, 32 bytes) */
#define MY_UFFD_API 0xaa
#define MY_UFFDIO_REGISTER_MODE_MISSING 1

int main(int argc, char **argv)
{
	uint64_t api[3] = { MY_UFFD_API, 0, 0 }, reg[4];
	int fd;
	char *p;

	test_init(argc, argv);
	fd = syscall(SYS_userfaultfd, O_CLOEXEC);
	if (fd < 0)
		skip("no userfaultfd");
	if (ioctl(fd, MY_UFFDIO_API, api))
		fail("UFFDIO_API: %s", strerror(errno));
	p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	memset(p, 0x5a, PAGE);	/* present: no fault to handle */
	reg[0] = (uint64_t)(uintptr_t)p;
	reg[1] = 4 * PAGE;
	reg[2] = MY_UFFDIO_REGISTER_MODE_MISSING;
	reg[3] = 0;
	if (ioctl(fd, MY_UFFDIO_REGISTER, reg))
		fail("UFFDIO_REGISTER: %s", strerror(errno));

	test_ready();
	test_wait();

	if (p[0] != 0x5a || fcntl(fd, F_GETFD) < 0)
		fail("state changed after a refused dump");
	pass();
}
