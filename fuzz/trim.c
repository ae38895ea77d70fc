/*
 * trim IN OUT: make a small fuzz seed of a cr image.  Every record is
 * kept as it is, but each PAGEMAP keeps only the first page of its first
 * run, the pages and pipe data are zeroed (no memory of the dumped
 * process, its environment included, ends up in the seed) and pipe data
 * is cut to 16 bytes.  The END record is made right for the result.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "img.h"

#define DATA_KEEP 16

static uint8_t *out;
static size_t olen, ocap;

static void put(const void *p, size_t n)
{
	while (olen + n > ocap) {
		ocap = ocap ? 2 * ocap : 1 << 16;
		out = realloc(out, ocap);
		if (!out) {
			fprintf(stderr, "trim: out of memory\n");
			exit(1);
		}
	}
	if (p)
		memcpy(out + olen, p, n);
	else
		memset(out + olen, 0, n);
	olen += n;
}

/* A record header; returns its offset, to set the length later. */
static size_t put_rec(uint32_t tag, uint64_t len)
{
	struct tlv_rec r = { tag, 0, len };
	size_t at = olen;

	put(&r, sizeof(r));
	return at;
}

static void set_len(size_t at, uint64_t len)
{
	memcpy(out + at + offsetof(struct tlv_rec, len), &len, sizeof(len));
}

/* A PAD so that the value of a PAGES record put next is page aligned. */
static void pad_for_pages(void)
{
	size_t need = (FZ_PAGE - (olen + FZ_REC) % FZ_PAGE) % FZ_PAGE;

	if (!need)
		return;
	if (need < FZ_REC)
		need += FZ_PAGE;
	put_rec(TLV_PAD, need - FZ_REC);
	put(NULL, need - FZ_REC);
}

/* Next record of v[*off, len), or false at the end (or if it is cut). */
static bool next(const uint8_t *v, size_t len, size_t *off,
		 struct tlv_rec *r)
{
	if (*off + FZ_REC > len)
		return false;
	memcpy(r, v + *off, sizeof(*r));
	if (r->len > len - *off - FZ_REC)
		return false;
	*off += FZ_REC;
	return true;
}

/* Copy a nest's records, cutting and zeroing pipe data. */
static void copy_nest(const uint8_t *v, size_t len)
{
	struct tlv_rec r;
	size_t off = 0, at;

	while (next(v, len, &off, &r)) {
		if (r.tag == TLV_DATA) {
			put_rec(r.tag, r.len < DATA_KEEP ? r.len : DATA_KEEP);
			put(NULL, r.len < DATA_KEEP ? r.len : DATA_KEEP);
		} else if (tlv_kind(r.tag) == TLV_K_NEST) {
			at = put_rec(r.tag, 0);
			copy_nest(v + off, r.len);
			set_len(at, olen - at - FZ_REC);
		} else {
			put(v + off - FZ_REC, FZ_REC + r.len);
		}
		off += r.len;
	}
}

/* A PAGEMAP with one page of its first run; then its PAGES, zeroed. */
static void copy_pagemap(const uint8_t *v, size_t len)
{
	struct tlv_rec r;
	struct tlv_run run;
	size_t off = 0, at = put_rec(TLV_PAGEMAP, 0);
	uint64_t npages = 0;

	while (next(v, len, &off, &r)) {
		if (r.tag == TLV_RUNS && r.len >= sizeof(run)) {
			memcpy(&run, v + off, sizeof(run));
			run.npages = 1;
			npages = 1;
			put_rec(r.tag, sizeof(run));
			put(&run, sizeof(run));
		} else {
			put(v + off - FZ_REC, FZ_REC + r.len);
		}
		off += r.len;
	}
	set_len(at, olen - at - FZ_REC);
	pad_for_pages();
	put_rec(TLV_PAGES, npages * FZ_PAGE);
	put(NULL, npages * FZ_PAGE);
}

int main(int argc, char **argv)
{
	struct tlv_rec r;
	uint8_t *in;
	size_t len, off = sizeof(struct tlv_head);
	FILE *f;
	long n;

	if (argc != 3) {
		fprintf(stderr, "usage: trim IN OUT\n");
		return 2;
	}
	f = fopen(argv[1], "rb");
	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < (long)off ||
	    fseek(f, 0, SEEK_SET) || !(in = malloc(n)) ||
	    fread(in, 1, n, f) != (size_t)n) {
		fprintf(stderr, "trim: %s: %s\n", argv[1],
			errno ? strerror(errno) : "not an image");
		return 1;
	}
	fclose(f);
	len = n;
	put(in, off);
	while (next(in, len, &off, &r) && r.tag != TLV_END) {
		if (r.tag == TLV_PAGEMAP)
			copy_pagemap(in + off, r.len);
		else if (tlv_kind(r.tag) == TLV_K_NEST)
			copy_nest(in - FZ_REC + off, FZ_REC + r.len);
		else if (r.tag != TLV_PAD && r.tag != TLV_PAGES)
			put(in + off - FZ_REC, FZ_REC + r.len);
		off += r.len;
	}
	put(NULL, FZ_END);
	olen = fz_seal(out, olen - FZ_END);
	f = fopen(argv[2], "wb");
	if (!f || fwrite(out, 1, olen, f) != olen || fclose(f)) {
		fprintf(stderr, "trim: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	return 0;
}
