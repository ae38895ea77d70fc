/* 2 threads keep their registers, vector registers, TLS and tids across the dump. */
#define NTHREADS 2
#include "threads.h"
