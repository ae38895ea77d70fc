/* t/mm-hugetlb.c with one 1 GiB page of private memory, touched at both ends: it comes back as a 1 GiB page with its contents (SKIP, loudly, where no 1 GiB page can be reserved). */
#define HP_SHIFT 30
#define ONLY_PRIVATE
#include "mm-hugetlb.c"
