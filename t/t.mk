# Test suite build, included by the top-level Makefile (paths are relative
# to the repository root).  `make tests` builds every t/*.c test twice,
# t/bin/NAME.musl (static, musl) and t/bin/NAME.glibc, plus the runner t/run.

MUSL_CC ?= musl-gcc
CC_GLIBC ?= gcc
T_CFLAGS ?= -O1 -g -Wall -Wextra -Werror

T_NAMES := $(filter-out run,$(basename $(notdir $(wildcard t/*.c))))
T_BINS := $(T_NAMES:%=t/bin/%.musl) $(T_NAMES:%=t/bin/%.glibc)

# per-test extra flags
T_XFLAGS_regs-avx512 := -mavx512f
$(foreach t,$(filter thread-% fault-tree prctl-state sched-affinity refuse-spec-thread proc-caps timer-% seccomp-% creds-%,$(T_NAMES)),$(eval T_XFLAGS_$(t) := -pthread))
# netlink and packet headers: the kernel's, as cr itself uses them
T_XFLAGS_sk-netlink-packet := -isystem build/include
t/bin/sk-netlink-packet.musl: build/include/.stamp
# t/mm-hugetlb-1g.c is t/mm-hugetlb.c with other settings
t/bin/mm-hugetlb-1g.musl t/bin/mm-hugetlb-1g.glibc: t/mm-hugetlb.c

# the headers tests include (lib.h; threads.h for thread-N.c)
T_HDRS := $(wildcard t/*.h)

.PHONY: tests clean-tests

tests: $(T_BINS) t/run

t/bin/%.musl: t/%.c $(T_HDRS) | t/bin
	$(MUSL_CC) -static $(T_CFLAGS) $(T_XFLAGS_$*) -o $@ $<

t/bin/%.glibc: t/%.c $(T_HDRS) | t/bin
	$(CC_GLIBC) $(T_CFLAGS) $(T_XFLAGS_$*) -o $@ $<

t/bin:
	mkdir -p $@

t/run: t/run.c tlv.h
	$(CC_GLIBC) $(T_CFLAGS) -o $@ $<

clean-tests:
	rm -rf t/bin t/run
