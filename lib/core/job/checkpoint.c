/* SPDX-License-Identifier: BSD-3-Clause */
/* Aggregator checkpoints: atomic write, CRC-verified load, job match. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "gcdl/checkpoint.h"
#include "gcdl/engine.h"
#include "gcdl/layout.h"
#include "gcdl/outfile.h"
#include "gcdl/profile.h"
#include "seterr.h"

#define CK_MAGIC "GCDLCKPT"
#define CK_HDR 96

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint64_t
layout_hash(const struct gcdl_layout *l)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	uint32_t n = gcdl_layout_workers(l);

	for (uint32_t k = 0; k < n; k++) {
		const uint32_t *parts;
		uint32_t cnt;

		if (gcdl_layout_worker_partitions(l, k, &parts, &cnt) != 0)
			return 0;
		for (uint32_t i = 0; i <= cnt; i++) {
			uint32_t v = i < cnt ? parts[i] : UINT32_MAX; /* separator */

			for (int b = 0; b < 4; b++) {
				h ^= (v >> (8 * b)) & 0xff;
				h *= UINT64_C(0x100000001b3);
			}
		}
	}
	return h;
}

/* The worker states the engine holds, copied whole (a worker computing its
 * round meanwhile is skipped and counted in states_busy). */
static int
describe_states(struct gcdl_checkpoint *ck, const struct gcdl_engine *e)
{
	static const enum gcdl_worker_state kinds[] = { GCDL_WSTATE_EF, GCDL_WSTATE_MOMENTUM };
	size_t dim = ck->dim;
	uint32_t max = 2 * ck->workers, n = 0;
	float *tmp;

	tmp = malloc(sizeof(float) * dim);
	if (tmp == NULL)
		return -ENOMEM;
	for (uint32_t k = 0; k < ck->workers; k++) {
		for (size_t i = 0; i < 2; i++) {
			int rc = gcdl_engine_worker_state_get(e, k, kinds[i], tmp);

			if (rc == -EBUSY)
				ck->states_busy++;
			if (rc != 1)
				continue;
			if (ck->states == NULL) {
				ck->states = malloc(sizeof(float) * dim * max);
				ck->state_worker = malloc(sizeof(uint32_t) * max);
				ck->state_which = malloc(sizeof(uint32_t) * max);
				if (ck->states == NULL || ck->state_worker == NULL ||
				    ck->state_which == NULL) {
					free(tmp);
					gcdl_checkpoint_free(ck);
					return -ENOMEM;
				}
			}
			memcpy(ck->states + dim * n, tmp, sizeof(float) * dim);
			ck->state_worker[n] = k;
			ck->state_which[n] = (uint32_t)kinds[i];
			n++;
		}
	}
	free(tmp);
	ck->nstates = n;
	return 0;
}

int
gcdl_checkpoint_describe(struct gcdl_checkpoint *ck, const struct gcdl_profile *p,
			 struct gcdl_engine *e, uint32_t round)
{
	enum gcdl_layout_kind kind;
	uint32_t m, d;

	if (ck == NULL || p == NULL || e == NULL)
		return -EINVAL;
	memset(ck, 0, sizeof(*ck));
	gcdl_profile_layout(p, &kind, &m, &d);
	ck->round = round;
	ck->dim = gcdl_engine_dim(e);
	ck->workers = p->workers;
	ck->partitions = m;
	ck->redundancy = d;
	ck->layout_kind = (uint32_t)kind;
	ck->method = (uint32_t)p->method;
	ck->profile_hash = gcdl_profile_hash(p);
	ck->layout_hash = layout_hash(gcdl_engine_layout(e));
	ck->seed = p->seed;
	ck->model = gcdl_engine_model(e);
	ck->momentum = gcdl_engine_momentum(e);
	ck->residual = gcdl_engine_residual(e);
	return describe_states(ck, e);
}

static void
put_floats(uint8_t *p, const float *v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t bits;

		memcpy(&bits, &v[i], 4);
		put32(p + 4 * (size_t)i, bits);
	}
}

static void
get_floats(float *v, const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t bits = get32(p + 4 * (size_t)i);

		memcpy(&v[i], &bits, 4);
	}
}

/* The counters a checkpoint carries, in list order, and a hash of their names
 * (a build with another list cannot read the totals back). */
static uint32_t
totals_count(uint64_t *hash)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	uint32_t n = 0;

	for (int c = 0; c < GCDL_CTR__COUNT; c++) {
		if (!(gcdl_counter_flags(c) & GCDL_CTR_F_RESUME))
			continue;
		for (const char *p = gcdl_counter_name(c); ; p++) {
			h ^= (uint8_t)*p;
			h *= UINT64_C(0x100000001b3);
			if (*p == '\0')
				break;
		}
		n++;
	}
	if (hash != NULL)
		*hash = h;
	return n;
}

/* header, totals, model, momentum, the downlink's residual if any, the
 * worker states, CRC */
static size_t
file_size(uint32_t dim, uint32_t ntotals, int resid, uint32_t nstates)
{
	return CK_HDR + 8 * (size_t)ntotals + (resid ? 12 : 8) * (size_t)dim +
	       (size_t)nstates * (8 + 4 * (size_t)dim) + 4;
}

/* where the worker states begin */
static size_t
states_off(uint32_t dim, uint32_t ntotals, int resid)
{
	return file_size(dim, ntotals, resid, 0) - 4;
}

int
gcdl_checkpoint_save(const char *path, const struct gcdl_checkpoint *ck, char *err,
		     size_t errlen)
{
	char tmp[4096], dir[4096], why[256];
	struct gcdl_outfile of;
	const char *slash;
	uint8_t *buf;
	size_t len, off = 0, t = 0;
	uint64_t thash;
	uint32_t ntotals;
	int fd, rc = 0;

	if (path == NULL || ck == NULL || ck->model == NULL || ck->momentum == NULL) {
		gcdl_seterr(err, errlen, "checkpoint: nothing to write");
		return -EINVAL;
	}
	ntotals = totals_count(&thash);
	len = file_size(ck->dim, ntotals, ck->residual != NULL, ck->nstates);
	buf = malloc(len);
	if (buf == NULL) {
		gcdl_seterr(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	memset(buf, 0, CK_HDR);
	memcpy(buf, CK_MAGIC, 8);
	put32(buf + 8, GCDL_CHECKPOINT_VERSION);
	put32(buf + 12, CK_HDR);
	put32(buf + 16, ck->round);
	put32(buf + 20, ck->dim);
	put32(buf + 24, ck->workers);
	put32(buf + 28, ck->partitions);
	put32(buf + 32, ck->redundancy);
	put32(buf + 36, ck->layout_kind);
	put32(buf + 40, ck->method);
	put32(buf + 44, ntotals);
	put64(buf + 48, ck->profile_hash);
	put64(buf + 56, ck->layout_hash);
	put64(buf + 64, ck->seed);
	put64(buf + 72, thash);
	put32(buf + 80, ck->residual != NULL);
	put32(buf + 84, ck->nstates);
	for (int c = 0; c < GCDL_CTR__COUNT; c++)
		if (gcdl_counter_flags(c) & GCDL_CTR_F_RESUME)
			put64(buf + CK_HDR + 8 * t++, ck->totals[c]);
	put_floats(buf + CK_HDR + 8 * (size_t)ntotals, ck->model, ck->dim);
	put_floats(buf + CK_HDR + 8 * (size_t)ntotals + 4 * (size_t)ck->dim, ck->momentum, ck->dim);
	if (ck->residual != NULL)
		put_floats(buf + CK_HDR + 8 * (size_t)ntotals + 8 * (size_t)ck->dim, ck->residual,
			   ck->dim);
	for (uint32_t i = 0; i < ck->nstates; i++) {
		uint8_t *q = buf + states_off(ck->dim, ntotals, ck->residual != NULL) +
			     (size_t)i * (8 + 4 * (size_t)ck->dim);

		put32(q, ck->state_worker[i]);
		put32(q + 4, ck->state_which[i]);
		put_floats(q + 8, ck->states + (size_t)i * ck->dim, ck->dim);
	}
	put32(buf + len - 4, (uint32_t)crc32(0L, buf, (uInt)(len - 4)));

	/* only a regular file (or a new path) is ever replaced */
	rc = gcdl_outfile_check(path, why, sizeof(why));
	if (rc != 0 || gcdl_outfile_begin(&of, path) != 0) {
		gcdl_seterr(err, errlen, "%s: %s", path, rc != 0 ? why : "name too long");
		free(buf);
		return rc != 0 ? rc : -ENAMETOOLONG;
	}
	snprintf(tmp, sizeof(tmp), "%s", of.tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		gcdl_seterr(err, errlen, "%s: %s", tmp, strerror(-rc));
		free(buf);
		return rc;
	}
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)w;
	}
	free(buf);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0) {
		gcdl_seterr(err, errlen, "%s: %s", path, strerror(-rc));
		unlink(tmp);
		return rc;
	}
	/* the rename itself is durable once the directory is synced */
	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

int
gcdl_checkpoint_load(const char *path, struct gcdl_checkpoint *ck, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, t = 0;
	uint32_t dim, ftotals, resid, nstates, version, ntotals = totals_count(NULL);
	size_t limit;
	uint64_t thash;
	FILE *f;
	int rc = -EBADMSG;

	if (path == NULL || ck == NULL) {
		gcdl_seterr(err, errlen, "checkpoint: no file given");
		return -EINVAL;
	}
	memset(ck, 0, sizeof(*ck));
	f = fopen(path, "rb");
	if (f == NULL) {
		rc = -errno;
		gcdl_seterr(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	/* its type and size first: /dev/zero would be read for ever; a file
	 * whose header reads is read up to the size that header gives */
	{
		struct stat st;
		uint8_t h[CK_HDR];

		if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
			gcdl_seterr(err, errlen, "%s: not a gcdl checkpoint (not a regular file)",
				    path);
			fclose(f);
			return -EBADMSG;
		}
		limit = file_size(GCDL_PROFILE_MAX_DIM, GCDL_CTR__COUNT, 1, 0);
		if (fread(h, 1, CK_HDR, f) == CK_HDR && memcmp(h, CK_MAGIC, 8) == 0 &&
		    (get32(h + 8) == 3 || get32(h + 8) == GCDL_CHECKPOINT_VERSION) &&
		    get32(h + 44) <= GCDL_CTR__COUNT && get32(h + 20) > 0 &&
		    get32(h + 20) <= GCDL_PROFILE_MAX_DIM && get32(h + 80) <= 1 &&
		    (get32(h + 8) == 3 || get32(h + 84) <= 2 * GCDL_LAYOUT_MAX_NODES))
			limit = file_size(get32(h + 20), get32(h + 44), (int)get32(h + 80),
					  get32(h + 8) == 3 ? 0 : get32(h + 84));
		if ((uint64_t)st.st_size > limit) {
			gcdl_seterr(err, errlen, "%s: not a gcdl checkpoint (%lld bytes, larger than "
				    "any)", path, (long long)st.st_size);
			fclose(f);
			return -EBADMSG;
		}
		rewind(f);
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			uint8_t *nb;

			/* no checkpoint is larger than the largest model allows */
			if (cap > limit) {
				gcdl_seterr(err, errlen, "%s: not a gcdl checkpoint (too large)", path);
				goto out;
			}
			cap = cap ? 2 * cap : 65536;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				rc = -ENOMEM;
				gcdl_seterr(err, errlen, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		rc = -EIO;
		gcdl_seterr(err, errlen, "%s: read error", path);
		goto out;
	}
	if (len < CK_HDR + 4 || memcmp(buf, CK_MAGIC, 8) != 0) {
		gcdl_seterr(err, errlen, "%s: not a gcdl checkpoint (no GCDLCKPT header)", path);
		goto out;
	}
	version = get32(buf + 8);
	if ((version != GCDL_CHECKPOINT_VERSION && version != 3) || get32(buf + 12) != CK_HDR) {
		gcdl_seterr(err, errlen, "%s: checkpoint version %u, this build reads versions 3 "
			    "and %u", path, version, GCDL_CHECKPOINT_VERSION);
		goto out;
	}
	/* the size the file's own header promises (its totals are bounded by the
	 * counter list), then its checksum, then whether this build reads it */
	ftotals = get32(buf + 44);
	dim = get32(buf + 20);
	resid = get32(buf + 80);
	nstates = version == 3 ? 0 : get32(buf + 84);
	if (ftotals > GCDL_CTR__COUNT || dim == 0 || dim > GCDL_PROFILE_MAX_DIM || resid > 1 ||
	    nstates > 2 * GCDL_LAYOUT_MAX_NODES || len != file_size(dim, ftotals, (int)resid,
								     nstates)) {
		gcdl_seterr(err, errlen, "%s: checkpoint truncated or padded (%zu bytes, %u "
			    "coordinates need %zu)", path, len, dim,
			    dim <= GCDL_PROFILE_MAX_DIM && ftotals <= GCDL_CTR__COUNT && resid <= 1 &&
			    nstates <= 2 * GCDL_LAYOUT_MAX_NODES
				    ? file_size(dim, ftotals, (int)resid, nstates) : 0);
		goto out;
	}
	if (get32(buf + len - 4) != (uint32_t)crc32(0L, buf, (uInt)(len - 4))) {
		gcdl_seterr(err, errlen, "%s: checkpoint checksum mismatch (corrupt file)", path);
		goto out;
	}
	totals_count(&thash);
	if (ftotals != ntotals || get64(buf + 72) != thash) {
		gcdl_seterr(err, errlen, "%s: checkpoint of a gcdl build with other counters (%u "
			    "totals, this build keeps %u)", path, ftotals, ntotals);
		goto out;
	}
	ck->round = get32(buf + 16);
	ck->dim = dim;
	ck->workers = get32(buf + 24);
	ck->partitions = get32(buf + 28);
	ck->redundancy = get32(buf + 32);
	ck->layout_kind = get32(buf + 36);
	ck->method = get32(buf + 40);
	ck->profile_hash = get64(buf + 48);
	ck->layout_hash = get64(buf + 56);
	ck->seed = get64(buf + 64);
	for (int c = 0; c < GCDL_CTR__COUNT; c++)
		if (gcdl_counter_flags(c) & GCDL_CTR_F_RESUME)
			ck->totals[c] = get64(buf + CK_HDR + 8 * t++);
	ck->model = malloc(sizeof(float) * dim);
	ck->momentum = malloc(sizeof(float) * dim);
	ck->residual = resid ? malloc(sizeof(float) * dim) : NULL;
	ck->owned = 1;
	if (ck->model == NULL || ck->momentum == NULL || (resid && ck->residual == NULL)) {
		rc = -ENOMEM;
		gcdl_seterr(err, errlen, "%s: out of memory", path);
		goto out;
	}
	get_floats(ck->model, buf + CK_HDR + 8 * (size_t)ntotals, dim);
	get_floats(ck->momentum, buf + CK_HDR + 8 * (size_t)ntotals + 4 * (size_t)dim, dim);
	if (resid)
		get_floats(ck->residual, buf + CK_HDR + 8 * (size_t)ntotals + 8 * (size_t)dim, dim);
	for (uint32_t i = 0; i < dim; i++) {
		if (!isfinite(ck->model[i]) || !isfinite(ck->momentum[i]) ||
		    (resid && !isfinite(ck->residual[i]))) {
			gcdl_seterr(err, errlen, "%s: checkpoint holds non-finite values", path);
			goto out;
		}
	}
	if (nstates > 0) {
		ck->states = malloc(sizeof(float) * dim * nstates);
		ck->state_worker = malloc(sizeof(uint32_t) * nstates);
		ck->state_which = malloc(sizeof(uint32_t) * nstates);
		if (ck->states == NULL || ck->state_worker == NULL || ck->state_which == NULL) {
			rc = -ENOMEM;
			gcdl_seterr(err, errlen, "%s: out of memory", path);
			goto out;
		}
		ck->nstates = nstates;
		for (uint32_t i = 0; i < nstates; i++) {
			const uint8_t *q = buf + states_off(dim, ntotals, (int)resid) +
					   (size_t)i * (8 + 4 * (size_t)dim);
			float *v = ck->states + (size_t)i * dim;

			ck->state_worker[i] = get32(q);
			ck->state_which[i] = get32(q + 4);
			get_floats(v, q + 8, dim);
			for (uint32_t j = 0; j < dim; j++) {
				if (!isfinite(v[j])) {
					gcdl_seterr(err, errlen, "%s: checkpoint holds non-finite "
						    "values (worker state %u)", path, i);
					goto out;
				}
			}
		}
	}
	rc = 0;
out:
	fclose(f);
	free(buf);
	if (rc != 0)
		gcdl_checkpoint_free(ck);
	return rc;
}

/* Whether the job keeps that worker state (gcdl/engine.h). */
static int
keeps_state(const struct gcdl_profile *p, uint32_t which)
{
	return (which == GCDL_WSTATE_EF && p->method == GCDL_METHOD_ONEBIT_GC_EF) ||
	       (which == GCDL_WSTATE_MOMENTUM && gcdl_profile_worker_momentum(p));
}

int
gcdl_checkpoint_restore(const struct gcdl_checkpoint *ck, const struct gcdl_profile *p,
			struct gcdl_engine *e, char *err, size_t errlen)
{
	struct gcdl_checkpoint now;

	if (ck == NULL || p == NULL || e == NULL || ck->model == NULL || ck->momentum == NULL) {
		gcdl_seterr(err, errlen, "checkpoint: nothing to restore");
		return -EINVAL;
	}
	gcdl_checkpoint_describe(&now, p, e, 0);
	gcdl_checkpoint_free(&now); /* its shape is all we compare */
	if (ck->seed != now.seed || ck->method != now.method) {
		gcdl_seterr(err, errlen, "checkpoint of another job: job.seed %llu, method %s "
			    "(this profile: job.seed %llu, method %s)", (unsigned long long)ck->seed,
			    gcdl_method_name((enum gcdl_method)ck->method),
			    (unsigned long long)now.seed, gcdl_method_name(p->method));
		return -ESTALE;
	}
	if (ck->dim != now.dim || ck->workers != now.workers || ck->partitions != now.partitions ||
	    ck->redundancy != now.redundancy || ck->layout_kind != now.layout_kind) {
		gcdl_seterr(err, errlen, "checkpoint of another shape: %u coordinates, N=%u M=%u "
			    "d=%u layout %u (this job: %u coordinates, N=%u M=%u d=%u layout %u)",
			    ck->dim, ck->workers, ck->partitions, ck->redundancy, ck->layout_kind,
			    now.dim, now.workers, now.partitions, now.redundancy, now.layout_kind);
		return -ESTALE;
	}
	if (ck->layout_hash != now.layout_hash) {
		gcdl_seterr(err, errlen, "checkpoint layout differs: the workers hold other "
			    "partitions than this build computes for the profile");
		return -ESTALE;
	}
	if (ck->profile_hash != now.profile_hash) {
		gcdl_seterr(err, errlen, "checkpoint of another profile (hash %016llx, this one "
			    "%016llx): resume with the profile and --set options it was written "
			    "with", (unsigned long long)ck->profile_hash,
			    (unsigned long long)now.profile_hash);
		return -ESTALE;
	}
	if (ck->round >= p->rounds) {
		gcdl_seterr(err, errlen, "checkpoint after round %u: the job has only %u rounds",
			    ck->round, p->rounds);
		return -ESTALE;
	}
	for (uint32_t i = 0; i < ck->nstates; i++) {
		/* a state this job keeps, of a worker it has (nothing set yet) */
		if (ck->state_worker[i] >= now.workers || !keeps_state(p, ck->state_which[i])) {
			gcdl_seterr(err, errlen, "checkpoint holds a worker state (worker %u, kind %u) "
				    "this job does not keep (job.method, optim.momentum_at)",
				    ck->state_worker[i], ck->state_which[i]);
			return -ESTALE;
		}
	}
	if ((ck->residual != NULL) != (gcdl_engine_residual(e) != NULL)) {
		gcdl_seterr(err, errlen, "checkpoint %s the downlink's residual, this job %s one "
			    "(downlink.mode)", ck->residual != NULL ? "holds" : "lacks",
			    gcdl_engine_residual(e) != NULL ? "keeps" : "keeps no");
		return -ESTALE;
	}
	for (uint32_t i = 0; i < ck->nstates; i++) {
		int rc = gcdl_engine_worker_state_set(e, ck->state_worker[i],
						      (enum gcdl_worker_state)ck->state_which[i],
						      ck->states + (size_t)i * ck->dim);

		if (rc != 0) {
			gcdl_seterr(err, errlen, "checkpoint: worker %u's state: %s",
				    ck->state_worker[i], strerror(-rc));
			return rc;
		}
	}
	memcpy(gcdl_engine_model(e), ck->model, sizeof(float) * ck->dim);
	memcpy(gcdl_engine_momentum(e), ck->momentum, sizeof(float) * ck->dim);
	if (ck->residual != NULL)
		memcpy(gcdl_engine_residual(e), ck->residual, sizeof(float) * ck->dim);
	return 0;
}

void
gcdl_checkpoint_free(struct gcdl_checkpoint *ck)
{
	if (ck == NULL)
		return;
	if (ck->owned) {
		free(ck->model);
		free(ck->momentum);
		free(ck->residual);
	}
	free(ck->states);
	free(ck->state_worker);
	free(ck->state_which);
	ck->states = NULL;
	ck->state_worker = NULL;
	ck->state_which = NULL;
	ck->nstates = 0;
	ck->model = NULL;
	ck->momentum = NULL;
	ck->residual = NULL;
	ck->owned = 0;
}
