/* 16 threads keep their registers, vector registers, TLS and tids across the dump. */
#define NTHREADS 16
#include "threads.h"
