# Benchmark, included by the top-level Makefile (paths relative to the
# repository root).  Run as root:
#   make bench                  ceilings + every target (about 5-10 minutes)
#   make bench-quick            fewer sizes and runs (under a minute)
#   make bench-migrate          cr migrate between two network namespaces
#                               (t/migrate.sh MIG_BENCH): frozen time of a
#                               pre-copy and of a one-shot migration of 1 GiB
#                               written at 1%/s, MB/s vs a plain TCP copy,
#                               and of MIG_RUNS (9) lazy pre-copy migrations
#                               (each, median, maximum)
#   make bench-compare [OLD=a NEW=b]   two result files side by side
#                               (default: the two newest in bench/results)
#   make clean-bench
# BENCH_DIR=DIR puts the images there (default $CR_BENCH_DIR or
# /tmp/cr-bench); BENCH_ARGS adds options, e.g. "-n 3", "--only mem-1G",
# "--cr-log" (bench/bin/bench --help lists them).

BENCH_CC     ?= gcc
BENCH_CFLAGS ?= -O2 -g -std=gnu11 -Wall -Wextra -Werror
BENCH_RUN     = bench/bin/bench --cr $(CURDIR)/cr -o $(CURDIR)/bench/results \
		$(if $(BENCH_DIR),-D $(BENCH_DIR)) $(BENCH_ARGS)

bench/bin/bench: bench/bench.c bench/ctl.h | bench/bin
	$(BENCH_CC) $(BENCH_CFLAGS) -o $@ $< -lm

bench/bin/target: bench/target.c bench/ctl.h | bench/bin
	$(BENCH_CC) $(BENCH_CFLAGS) -pthread -o $@ $<

bench/bin:
	mkdir -p $@

bench: cr bench/bin/bench bench/bin/target
	$(BENCH_RUN)
	$(MAKE) bench-migrate

bench-migrate: cr
	@f=$(CURDIR)/bench/results/$$(date +%Y%m%d-%H%M%S)-migrate.txt; \
	{ echo "# cr migrate benchmark (t/migrate.sh with MIG_BENCH)"; \
	  echo "meta.date=$$(date '+%F %T')"; \
	  echo "meta.commit=$$(git rev-parse --short HEAD 2>/dev/null)"; } > $$f; \
	MIG_BENCH=$$f CR=$(CURDIR)/cr bash t/migrate.sh

bench-quick: cr bench/bin/bench bench/bin/target
	$(BENCH_RUN) -q

bench-compare: bench/bin/bench
	bench/bin/bench -o $(CURDIR)/bench/results compare $(OLD) $(NEW)

clean-bench:
	rm -rf bench/bin

.PHONY: bench bench-migrate bench-quick bench-compare clean-bench
