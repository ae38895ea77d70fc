/* 256 threads keep their registers, vector registers, TLS and tids across the dump. */
#define NTHREADS 256
#include "threads.h"
