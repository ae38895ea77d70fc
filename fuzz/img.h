/*
 * Walking and sealing cr images, for the fuzz tools: the custom mutator
 * (mutator.c) and the seed trimmer (trim.c).  The format is in ../tlv.h.
 */
#ifndef CR_FUZZ_IMG_H
#define CR_FUZZ_IMG_H

#include <stdbool.h>
#include <string.h>

#include "../tlv.h"

#define FZ_PAGE 4096
#define FZ_REC sizeof(struct tlv_rec)
#define FZ_END (FZ_REC + sizeof(struct tlv_end))	/* a whole END record */

/*
 * Walk the top-level records of p[0, len).  Returns the offset of the END
 * record (*found set), or where the walk stopped: at the end, or at a
 * record that runs past it.
 */
static inline size_t fz_find_end(const uint8_t *p, size_t len, bool *found)
{
	size_t off = sizeof(struct tlv_head);
	struct tlv_rec r;

	*found = false;
	while (off + FZ_REC <= len) {
		memcpy(&r, p + off, sizeof(r));
		if (r.tag == TLV_END) {
			*found = true;
			return off;
		}
		if (r.len > len - off - FZ_REC)
			break;
		off += FZ_REC + r.len;
	}
	return off < len ? off : len;
}

/*
 * Write a good END record at offset at of p (which has room for it): the
 * checksum and length of everything before.  Returns the image's length.
 */
static inline size_t fz_seal(uint8_t *p, size_t at)
{
	struct tlv_rec r = { TLV_END, 0, sizeof(struct tlv_end) };
	struct tlv_end e = { tlv_crc32c(p, at), at };

	memcpy(p + at, &r, sizeof(r));
	memcpy(p + at + sizeof(r), &e, sizeof(e));
	return at + FZ_END;
}

#endif
