# Fuzzing of cr's image reader and validator, and a sanitizer build of cr;
# included by the top-level Makefile (-include fuzz/fuzz.mk).  Paths are
# relative to the repository root.
#
#   make fuzz           build fuzz/cr-fuzz (libFuzzer, ASan, UBSan), seed a
#                       corpus with images of the suite (trimmed by
#                       fuzz/trim) and fuzz/seeds/, fuzz FUZZ_SECONDS (60);
#                       crashing inputs go to build/fuzz/crashes/
#   make fuzz-regress   run fuzz/cr-fuzz once over fuzz/regress/* and
#                       fuzz/seeds/*: none may crash (a few seconds, once
#                       built)
#   make cr-asan        build/cr-asan: cr with ASan and UBSan (glibc)
#   make test-asan      part of the suite, and the chain, lazy, migrate
#                       and sign scripts, with CR=build/cr-asan
#   make clean-fuzz
#
# A crash found by make fuzz is kept: copy it to fuzz/regress/ so that
# fuzz-regress runs it from then on.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS ?= -g -O1 -fno-omit-frame-pointer
FUZZ_SAN := -fsanitize=address,undefined
FUZZ_OUT := build/fuzz
# cr's fuzz target frees whatever an input allocated, even when die()
# longjmps out of a half-read image (cr.c: fuzz_free_all), and libFuzzer
# checks for leaks; make fuzz still runs in slices of FUZZ_SLICE seconds
# so that a crash is reported early.
FUZZ_SLICE ?= 30
FUZZ_RUN := fuzz/cr-fuzz
# the suite's cases whose images seed the corpus (t/run filters)
FUZZ_SEED_CASES ?= counter.musl.dump counter.glibc.dump fault-tree.musl.dump \
	fd-files.musl.dump fd-shared.musl.dump sig-pending.musl.dump \
	sig-actions.musl.dump tree-pipe.musl.dump tree-zombie.musl.dump \
	tree-sid-pgid.musl.dump shm-file.musl.dump shm-posix.musl.dump \
	mm-prot-none.musl.dump rseq.glibc.dump thread-2.glibc.dump \
	proc-misc.musl.dump tree-dead-sid.musl.dump tree-clone-files.musl.dump \
	shm-sysv.musl.dump sk-unix-listen.musl.dump sk-unix-dgram.musl.dump \
	sk-inet.musl.dump sk-tcp-pair-in-tree.musl.dump sk-netlink-packet.musl.dump \
	fd-locks.musl.dump fd-fanotify.musl.dump fd-async.musl.dump \
	fd-timerfd-down.musl.dump fd-epoll.musl.dump \
	tty-pty.musl.dump tty-extern.musl.dump
# the part of the suite test-asan runs with build/cr-asan
ASAN_CASES ?= counter. fault-tree. tree-pipe. tree-zombie. shm-anon. \
	shm-file. fd-files. fd-shared. sig-pending. thread-2. thread-blocked. \
	rseq. mm-cow. tree-dead-sid. tree-clone-files. shm-sysv. sk-unix-pair. \
	sk-unix-listen. sk-unix-dgram. sk-inet. sk-tcp-pair-in-tree. \
	sk-netlink-packet. tty-pty. tty-extern.
ASAN_MODES ?= dump,snap,twice,pipe,fg,chain,live,corrupt,forge,fault,lazy
# cr-asan's leaks at exit are by design
ASAN_RUN := ASAN_OPTIONS=detect_leaks=0 CR=build/cr-asan t/run
# and the scripts of chains, lazy restore, migration and signing (~40 s)
ASAN_SH := ASAN_OPTIONS=detect_leaks=0 CR=$(CURDIR)/build/cr-asan bash

.PHONY: fuzz fuzz-regress fuzz-deps cr-asan test-asan clean-fuzz

# clang with the fuzzer and sanitizer runtimes (Debian: clang and
# libclang-rt-14-dev), installed only when a probe link fails
fuzz-deps:
	@mkdir -p $(FUZZ_OUT)
	@printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\n{ return d && n; }\n' \
		> $(FUZZ_OUT)/probe.c
	@if ! $(FUZZ_CC) -fsanitize=fuzzer,address,undefined $(FUZZ_OUT)/probe.c \
	     -o $(FUZZ_OUT)/probe 2>/dev/null; then \
		echo "installing clang libclang-rt-14-dev"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq clang libclang-rt-14-dev >/dev/null; \
	fi

fuzz/cr-fuzz: cr.c tlv.h fuzz/mutator.c fuzz/img.h build/blob.o | fuzz-deps
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) \
		-fno-sanitize-recover=undefined -std=gnu11 -DCR_FUZZ -I. \
		-isystem build/include cr.c fuzz/mutator.c build/blob.o -o $@

fuzz/trim: fuzz/trim.c fuzz/img.h tlv.h
	$(CC_GLIBC) -O1 -g -Wall -Wextra -Werror fuzz/trim.c -o $@

# Images of the suite (t/run as root): made once, kept in build/fuzz/saved.
$(FUZZ_OUT)/saved/.stamp: | cr tests
	rm -rf $(FUZZ_OUT)/saved
	mkdir -p $(FUZZ_OUT)/saved
	-t/run --save-images $(FUZZ_OUT)/saved -m dump $(FUZZ_SEED_CASES)
	touch $@

fuzz: fuzz/cr-fuzz fuzz/trim $(FUZZ_OUT)/saved/.stamp
	mkdir -p $(FUZZ_OUT)/corpus $(FUZZ_OUT)/crashes
	for f in $(FUZZ_OUT)/saved/*.img; do \
		[ ! -e "$$f" ] || fuzz/trim "$$f" \
			$(FUZZ_OUT)/corpus/$$(basename "$$f") || exit 1; \
	done
	cp fuzz/seeds/* $(FUZZ_OUT)/corpus/
	touch $(FUZZ_OUT)/crashes/.start
	end=$$(($$(date +%s) + $(FUZZ_SECONDS))); \
	while [ $$(date +%s) -lt $$end ]; do \
		t=$$((end - $$(date +%s))); \
		[ $$t -le $(FUZZ_SLICE) ] || t=$(FUZZ_SLICE); \
		$(FUZZ_RUN) -max_total_time=$$t -rss_limit_mb=4096 \
			-max_len=262144 -artifact_prefix=$(FUZZ_OUT)/crashes/ \
			$(FUZZ_OUT)/corpus fuzz/regress 2>&1 | \
			grep -E '^Done|ERROR|SUMMARY|Test unit written'; \
		if [ -n "$$(find $(FUZZ_OUT)/crashes -type f \
			    -newer $(FUZZ_OUT)/crashes/.start)" ]; then \
			echo "fuzz: crashing inputs in $(FUZZ_OUT)/crashes/"; \
			exit 1; \
		fi; \
	done; \
	echo "fuzz: no crash, corpus of $$(ls $(FUZZ_OUT)/corpus | wc -l) inputs"

fuzz-regress: fuzz/cr-fuzz
	$(FUZZ_RUN) fuzz/regress/* fuzz/seeds/*

build/cr-asan: cr.c tlv.h build/blob.o | fuzz-deps
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -std=gnu11 -I. \
		-isystem build/include cr.c build/blob.o -o $@

cr-asan: build/cr-asan

test-asan: build/cr-asan tests
	$(ASAN_RUN) -m $(ASAN_MODES) $(ASAN_CASES)
	$(ASAN_SH) t/predump.sh
	$(ASAN_SH) t/lazy.sh
	$(ASAN_SH) t/migrate.sh
	$(ASAN_SH) t/sign.sh

clean-fuzz:
	rm -rf $(FUZZ_OUT) fuzz/cr-fuzz fuzz/trim build/cr-asan
