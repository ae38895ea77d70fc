/*
 * libFuzzer custom mutator for cr images.  A mutated image almost never
 * has a right checksum, so cr's reader would stop at END every time and
 * the validator behind it would never run: after libFuzzer's own
 * mutation, the END record is made right again (15 times in 16), where
 * the walk finds it, or put where the walk stops.
 */
#include <stddef.h>
#include <stdint.h>

#include "img.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
			       unsigned int seed);

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
			       unsigned int seed)
{
	size_t at;
	bool found;

	size = LLVMFuzzerMutate(data, size, max_size);
	if (seed % 16 == 0 || size < sizeof(struct tlv_head))
		return size;
	at = fz_find_end(data, size, &found);
	if (at + FZ_END > max_size)
		return size;
	return fz_seal(data, at);
}
