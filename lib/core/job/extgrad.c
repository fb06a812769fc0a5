/* SPDX-License-Identifier: BSD-3-Clause */
/* The external-gradient channel (gcdl/extgrad.h): a shared file mapping
 * between a trainer and its gcdl worker node. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gcdl/extgrad.h"
#include "seterr.h"

_Static_assert(offsetof(struct gcdl_extgrad_hdr, parts) == 64, "extgrad: parts");
_Static_assert(offsetof(struct gcdl_extgrad_hdr, weights) == 320, "extgrad: weights");
_Static_assert(offsetof(struct gcdl_extgrad_hdr, message) == 576, "extgrad: message");
_Static_assert(offsetof(struct gcdl_extgrad_hdr, in_round) == 1024, "extgrad: in_round");
_Static_assert(offsetof(struct gcdl_extgrad_hdr, taken) == 1088, "extgrad: taken");
_Static_assert(offsetof(struct gcdl_extgrad_hdr, out_rounds) == 1152, "extgrad: out_rounds");
_Static_assert(offsetof(struct gcdl_extgrad_hdr, straggler) == 1216, "extgrad: straggler");
_Static_assert(offsetof(struct gcdl_extgrad_hdr, stale) == 1280, "extgrad: stale");
_Static_assert(sizeof(struct gcdl_extgrad_hdr) <= GCDL_EXTGRAD_DATA_OFF, "extgrad: header");

/* The node's own copies of what it wrote: the trainer maps the header
 * read-write, so the node never trusts a size or count read back from it. */
struct gcdl_extgrad {
	struct gcdl_extgrad_hdr *h;
	size_t len;
	float *in;
	uint8_t *out;
	uint32_t dim, slots;
	uint64_t stride;
	uint64_t published;  /* rounds published (out_rounds as written) */
	uint64_t taken;      /* `taken` as written */
	uint64_t stale;      /* `stale` as written */
	uint64_t stale_seen; /* the in_round last counted as stale */
};

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static uint64_t
round_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

size_t
gcdl_extgrad_size(uint32_t dim, uint32_t slots)
{
	uint64_t vec = round_up((uint64_t)dim * sizeof(float), 64);

	if (dim == 0 || slots == 0 || slots > 65536)
		return 0;
	return (size_t)(GCDL_EXTGRAD_DATA_OFF + round_up(vec, 4096) + vec * slots);
}

struct gcdl_extgrad *
gcdl_extgrad_create(const char *path, const struct gcdl_extgrad_info *info, char *err,
		    size_t errlen)
{
	struct gcdl_extgrad *x;
	struct gcdl_extgrad_hdr *h;
	size_t len;
	void *mem;
	int fd, e;

	if (path == NULL || path[0] == '\0' || info == NULL || info->workers == 0 ||
	    info->worker >= info->workers || info->partitions == 0 || info->nparts == 0 ||
	    info->nparts > GCDL_EXTGRAD_MAX_PARTS || info->parts == NULL || info->weights == NULL ||
	    (len = gcdl_extgrad_size(info->dim, info->slots)) == 0) {
		gcdl_seterr(err, errlen, "--grad-shm: bad channel arguments");
		errno = EINVAL;
		return NULL;
	}
	/* a new file each time: a trainer still mapping an old one keeps it */
	unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		e = errno;
		gcdl_seterr(err, errlen, "--grad-shm %s: cannot create it: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	if (ftruncate(fd, (off_t)len) != 0) {
		e = errno;
		gcdl_seterr(err, errlen, "--grad-shm %s: cannot size it to %zu bytes: %s", path, len,
			    strerror(e));
		close(fd);
		unlink(path);
		errno = e;
		return NULL;
	}
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	e = errno;
	close(fd);
	if (mem == MAP_FAILED) {
		gcdl_seterr(err, errlen, "--grad-shm %s: cannot map %zu bytes: %s", path, len,
			    strerror(e));
		unlink(path);
		errno = e;
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (x == NULL) {
		munmap(mem, len);
		unlink(path);
		gcdl_seterr(err, errlen, "--grad-shm: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	h = mem;
	x->h = h;
	x->len = len;
	x->in = (float *)((uint8_t *)mem + GCDL_EXTGRAD_DATA_OFF);
	h->version = GCDL_EXTGRAD_VERSION;
	h->dim = info->dim;
	h->slots = info->slots;
	h->worker = info->worker;
	h->workers = info->workers;
	h->partitions = info->partitions;
	h->nparts = info->nparts;
	h->rounds = info->rounds;
	h->seed = info->seed;
	h->slot_stride = round_up((uint64_t)info->dim * sizeof(float), 64);
	h->out_off = GCDL_EXTGRAD_DATA_OFF + round_up(h->slot_stride, 4096);
	x->out = (uint8_t *)mem + h->out_off;
	x->dim = info->dim;
	x->slots = info->slots;
	x->stride = h->slot_stride;
	memcpy(h->parts, info->parts, sizeof(uint32_t) * info->nparts);
	memcpy(h->weights, info->weights, sizeof(float) * info->nparts);
	STORE(&h->state, (uint32_t)GCDL_EXTGRAD_STARTING);
	STORE(&h->magic, GCDL_EXTGRAD_MAGIC);
	return x;
}

void
gcdl_extgrad_free(struct gcdl_extgrad *x)
{
	if (x == NULL)
		return;
	munmap(x->h, x->len);
	free(x);
}

struct gcdl_extgrad_hdr *
gcdl_extgrad_hdr(struct gcdl_extgrad *x)
{
	return x ? x->h : NULL;
}

void
gcdl_extgrad_set_state(struct gcdl_extgrad *x, enum gcdl_extgrad_state state, const char *msg)
{
	if (x == NULL)
		return;
	if (msg != NULL)
		snprintf(x->h->message, sizeof(x->h->message), "%s", msg);
	STORE(&x->h->state, (uint32_t)state);
}

int
gcdl_extgrad_take(struct gcdl_extgrad *x, uint32_t round, float *v)
{
	uint64_t in;

	if (x == NULL || v == NULL)
		return -EINVAL;
	in = LOAD(&x->h->in_round);
	if (in == (uint64_t)round + 1) {
		memcpy(v, x->in, sizeof(float) * x->dim);
		x->taken = in;
		STORE(&x->h->taken, in);
		return 1;
	}
	if (in != 0 && in < (uint64_t)round + 1) {
		if (in != x->stale_seen && in > x->taken) {
			/* a round it was late for: counted once */
			x->stale_seen = in;
			STORE(&x->h->stale, ++x->stale);
		}
		return -ESTALE;
	}
	return 0;
}

void
gcdl_extgrad_straggler(struct gcdl_extgrad *x, uint32_t round)
{
	if (x != NULL)
		STORE(&x->h->straggler, (uint64_t)round + 1);
}

int
gcdl_extgrad_publish(struct gcdl_extgrad *x, uint32_t round, const float *g)
{
	if (x == NULL || g == NULL)
		return -EINVAL;
	if ((uint64_t)round != x->published)
		return -ERANGE;
	memcpy(x->out + (size_t)(round % x->slots) * x->stride, g, sizeof(float) * x->dim);
	x->published = (uint64_t)round + 1;
	STORE(&x->h->out_rounds, x->published);
	return 0;
}
