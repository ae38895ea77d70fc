/* SPDX-License-Identifier: MIT */
/*
 * The page a benchmark target shares with the harness: a file in /dev/shm
 * that both map MAP_SHARED.  cr restores such a mapping as the same file,
 * so the page keeps working across dump and restore.  Nobody write()s the
 * file after creating it: cr restore refuses a mapped file whose mtime
 * changed.  tmpfs may move mtime on the first store through a new mapping
 * (a restored target's); the harness puts it back before it restores one
 * image a second time.
 *
 * Every field is a u64 accessed with __atomic builtins; "H:" fields are
 * written by the harness, "T:" fields by the target.
 */
#ifndef BENCH_CTL_H
#define BENCH_CTL_H

#include <stdint.h>

#define CTL_SIZE	4096
#define CTL_READY	1	/* set up, waiting */
#define CTL_FAILED	2	/* gave up, see err */

struct ctl {
	uint64_t ready;		/* T: CTL_READY or CTL_FAILED */
	uint64_t beat;		/* T: advances at least once a millisecond */
	uint64_t spin;		/* H: 1 = spin on the clock, recording gaps */
	uint64_t spinning;	/* T: 1 while in the spin loop */
	uint64_t reset;		/* H: bump to restart the gap recording */
	uint64_t reset_ack;	/* T: = reset once restarted */
	uint64_t max_gap_ns;	/* T: longest gap between two clock reads */
	uint64_t check;		/* H: bump to ask for a check of the pattern */
	uint64_t check_ack;	/* T: = check once checked */
	uint64_t check_bad;	/* T: words not holding the pattern */
	uint64_t mem_addr;	/* T: the big region, mem_len bytes */
	uint64_t mem_len;
	uint64_t vma_base;	/* T: vma_count mappings of vma_len bytes, */
	uint64_t vma_stride;	/*    one every vma_stride bytes */
	uint64_t vma_len;
	uint64_t vma_count;
	uint64_t threads;	/* T: threads in all, main thread included */
	uint64_t setup_ns;	/* T: time taken to set all of it up */
	char err[256];		/* T: why it failed */
};

/* What every touched word holds: its own address, scrambled (never 0). */
static inline uint64_t ctl_pattern(const uint64_t *p)
{
	return (uint64_t)(uintptr_t)p ^ 0xc3a5c85c97cb3127ULL;
}

#endif
