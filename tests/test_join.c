/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for the join protocol (lib/core/join.c). */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/join.h"
#include "gcdl/profile.h"

static const uint8_t MAC_A[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t MAC_B[6] = { 0x02, 0, 0, 0, 0, 0x0b };

START_TEST(hello_round_trip_big_endian)
{
	struct gcdl_hello h = { .version = 1, .worker = 0x0102, .profile_hash = 0x1122334455667788ULL,
				.incarnation = 0xdeadbeef0badf00dull, .round = GCDL_JOIN_NONE }, d;
	uint8_t buf[GCDL_HELLO_LEN];

	ck_assert_int_eq(gcdl_hello_encode(&h, buf, sizeof(buf)), GCDL_HELLO_LEN);
	ck_assert_int_eq(buf[0], 0);
	ck_assert_int_eq(buf[3], 1);
	ck_assert_int_eq(buf[6], 0x01);
	ck_assert_int_eq(buf[7], 0x02);
	ck_assert_int_eq(buf[8], 0x11);
	ck_assert_int_eq(buf[15], 0x88);
	ck_assert_int_eq(buf[16], 0xde);
	ck_assert_int_eq(gcdl_hello_decode(buf, sizeof(buf), &d), 0);
	ck_assert_uint_eq(d.worker, 0x0102);
	ck_assert(d.profile_hash == 0x1122334455667788ULL);
	ck_assert_uint_eq(d.incarnation, 0xdeadbeef0badf00dull);
	ck_assert_uint_eq(d.round, GCDL_JOIN_NONE);
}
END_TEST

START_TEST(hello_rejects_bad_input)
{
	struct gcdl_hello h = { 0 };
	uint8_t buf[GCDL_HELLO_LEN + 1] = { 0 };

	ck_assert_int_eq(gcdl_hello_encode(NULL, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(gcdl_hello_encode(&h, buf, GCDL_HELLO_LEN - 1), -ENOSPC);
	ck_assert_int_eq(gcdl_hello_decode(buf, GCDL_HELLO_LEN - 1, &h), -EBADMSG);
	ck_assert_int_eq(gcdl_hello_decode(buf, GCDL_HELLO_LEN + 1, &h), -EBADMSG);
	ck_assert_int_eq(gcdl_hello_decode(NULL, GCDL_HELLO_LEN, &h), -EINVAL);
}
END_TEST

static struct gcdl_config
good_config(void)
{
	struct gcdl_config c;

	memset(&c, 0, sizeof(c));
	c.version = GCDL_JOIN_VERSION;
	c.status = GCDL_JOIN_ACCEPTED;
	c.profile_hash = 0xabcdef0123456789ULL;
	c.worker = 3;
	c.incarnation = 0x77000000000000aaULL;
	c.session = 0x5e5510000000beefULL;
	c.round = 12;
	c.rounds = 300;
	c.dim = 84;
	c.chunks = 3;
	c.chunk_coords = 40;
	c.model_coords = 7;
	c.aggregator = 1;
	c.aggregators = 2;
	c.chunk_first = 1;
	c.chunk_count = 2;
	c.coord_first = 40;
	c.coord_count = 44;
	c.nparts = 2;
	c.parts[0] = 0;
	c.parts[1] = 3;
	return c;
}

START_TEST(config_round_trip)
{
	struct gcdl_config c = good_config(), d;
	uint8_t buf[GCDL_CONFIG_FIXED_LEN + 4 * GCDL_JOIN_MAX_PARTS];
	int len = gcdl_config_encode(&c, buf, sizeof(buf));

	ck_assert_int_eq(len, GCDL_CONFIG_FIXED_LEN + 8);
	/* nparts sits right before the list, the list right after the fixed part */
	ck_assert_int_eq(buf[GCDL_CONFIG_FIXED_LEN - 1], 2);
	ck_assert_int_eq(buf[GCDL_CONFIG_FIXED_LEN + 7], 3);
	/* incarnation and session, 64 bits each, big-endian after the hash */
	ck_assert_int_eq(buf[16], 0x77);
	ck_assert_int_eq(buf[23], 0xaa);
	ck_assert_int_eq(buf[24], 0x5e);
	ck_assert_int_eq(buf[31], 0xef);
	ck_assert_int_eq(gcdl_config_decode(buf, (size_t)len, &d), 0);
	ck_assert_mem_eq(&c, &d, sizeof(c));
}
END_TEST

START_TEST(config_rejects_inconsistent)
{
	uint8_t buf[GCDL_CONFIG_FIXED_LEN + 4 * GCDL_JOIN_MAX_PARTS];
	struct gcdl_config c, d;
	int len;

	c = good_config();
	len = gcdl_config_encode(&c, buf, sizeof(buf));
	/* length that disagrees with nparts */
	ck_assert_int_eq(gcdl_config_decode(buf, (size_t)len - 4, &d), -EBADMSG);
	ck_assert_int_eq(gcdl_config_decode(buf, (size_t)len + 4, &d), -EBADMSG);
	ck_assert_int_eq(gcdl_config_decode(buf, GCDL_CONFIG_FIXED_LEN - 1, &d), -EBADMSG);
	/* a coordinate range past dim */
	c = good_config();
	c.coord_count = 45;
	len = gcdl_config_encode(&c, buf, sizeof(buf));
	ck_assert_int_eq(gcdl_config_decode(buf, (size_t)len, &d), -EBADMSG);
	/* a chunk range past the chunks */
	c = good_config();
	c.chunk_count = 3;
	len = gcdl_config_encode(&c, buf, sizeof(buf));
	ck_assert_int_eq(gcdl_config_decode(buf, (size_t)len, &d), -EBADMSG);
	/* a >= K */
	c = good_config();
	c.aggregator = 2;
	len = gcdl_config_encode(&c, buf, sizeof(buf));
	ck_assert_int_eq(gcdl_config_decode(buf, (size_t)len, &d), -EBADMSG);
	/* unknown status */
	c = good_config();
	c.status = GCDL_JOIN__COUNT;
	len = gcdl_config_encode(&c, buf, sizeof(buf));
	ck_assert_int_eq(gcdl_config_decode(buf, (size_t)len, &d), -EBADMSG);
	/* too many partitions */
	c = good_config();
	c.nparts = GCDL_JOIN_MAX_PARTS + 1;
	ck_assert_int_eq(gcdl_config_encode(&c, buf, sizeof(buf)), -EINVAL);
	c.nparts = 2;
	ck_assert_int_eq(gcdl_config_encode(&c, buf, GCDL_CONFIG_FIXED_LEN + 7), -ENOSPC);
	/* a refusal carries no ranges and is still valid */
	memset(&c, 0, sizeof(c));
	c.version = GCDL_JOIN_VERSION;
	c.status = GCDL_JOIN_REFUSED_PROFILE;
	c.profile_hash = 42;
	len = gcdl_config_encode(&c, buf, sizeof(buf));
	ck_assert_int_eq(gcdl_config_decode(buf, (size_t)len, &d), 0);
	ck_assert_uint_eq(d.status, GCDL_JOIN_REFUSED_PROFILE);
	ck_assert(d.profile_hash == 42);
}
END_TEST

START_TEST(shard_ranges_cover_every_chunk_once)
{
	for (uint32_t chunks = 1; chunks <= 40; chunks++) {
		for (uint32_t k = 1; k <= 9; k++) {
			uint32_t next = 0;

			for (uint32_t a = 0; a < k; a++) {
				uint32_t first, count;

				ck_assert_int_eq(gcdl_shard_chunks(chunks, k, a, &first, &count), 0);
				ck_assert_uint_eq(first, next);
				/* ranges differ in length by at most one */
				ck_assert(count == chunks / k || count == chunks / k + 1);
				for (uint32_t c = first; c < first + count; c++)
					ck_assert_uint_eq(gcdl_shard_owner(chunks, k, c), a);
				next = first + count;
			}
			ck_assert_uint_eq(next, chunks);
		}
	}
	ck_assert_uint_eq(gcdl_shard_owner(3, 2, 3), UINT32_MAX);
	ck_assert_uint_eq(gcdl_shard_owner(3, 0, 0), UINT32_MAX);
	{
		uint32_t f, c;

		ck_assert_int_eq(gcdl_shard_chunks(3, 2, 2, &f, &c), -EINVAL);
		ck_assert_int_eq(gcdl_shard_chunks(3, 0, 0, &f, &c), -EINVAL);
		/* the split used by the sharded integration test: 3 chunks, K = 2 */
		gcdl_shard_chunks(3, 2, 0, &f, &c);
		ck_assert_uint_eq(f, 0);
		ck_assert_uint_eq(c, 1);
		gcdl_shard_chunks(3, 2, 1, &f, &c);
		ck_assert_uint_eq(f, 1);
		ck_assert_uint_eq(c, 2);
	}
}
END_TEST

START_TEST(mac_lists)
{
	uint8_t m[3][6];

	ck_assert_int_eq(gcdl_mac_list_parse("", m, 3), 0);
	ck_assert_int_eq(gcdl_mac_list_parse("  ", m, 3), 0);
	ck_assert_int_eq(gcdl_mac_list_parse("02:00:00:00:00:0a, 02:00:00:00:00:0B", m, 3), 2);
	ck_assert_mem_eq(m[0], MAC_A, 6);
	ck_assert_mem_eq(m[1], MAC_B, 6);
	ck_assert_int_eq(gcdl_mac_list_parse("02-00-00-00-00-0a", m, 3), 1);
	ck_assert_int_eq(gcdl_mac_list_parse("02:00:00:00:00", m, 3), -EINVAL);
	ck_assert_int_eq(gcdl_mac_list_parse("02:00:00:00:00:0g", m, 3), -EINVAL);
	ck_assert_int_eq(gcdl_mac_list_parse("02:00:00:00:00:0a,", m, 3), -EINVAL);
	ck_assert_int_eq(gcdl_mac_list_parse("02:00:00:00:00:0a;02:00:00:00:00:0b", m, 3),
			 -EINVAL);
	ck_assert_int_eq(gcdl_mac_list_parse("02:00:00:00:00:0a,02:00:00:00:00:0b", m, 1),
			 -E2BIG);
	ck_assert_int_eq(gcdl_mac_list_parse(NULL, m, 1), -EINVAL);
	{
		char t[18];

		ck_assert_str_eq(gcdl_mac_format(MAC_B, t, sizeof(t)), "02:00:00:00:00:0b");
	}
}
END_TEST

START_TEST(join_table_decisions)
{
	struct gcdl_join_worker w;
	struct gcdl_hello h = { .version = GCDL_JOIN_VERSION, .worker = 1, .profile_hash = 99,
				.incarnation = 5, .round = GCDL_JOIN_NONE };
	uint32_t st;

	memset(&w, 0, sizeof(w));
	/* another profile: refused, nothing joined */
	h.profile_hash = 98;
	ck_assert_int_eq(gcdl_join_on_hello(&w, &h, 99, MAC_A, 0, NULL, 0, 20, 0, 1, &st),
			 GCDL_JOIN_ACT_REFUSE);
	ck_assert_uint_eq(st, GCDL_JOIN_REFUSED_PROFILE);
	ck_assert_int_eq(w.joined, 0);
	ck_assert_uint_eq(w.refused, 1);
	/* another protocol version */
	h.profile_hash = 99;
	h.version = GCDL_JOIN_VERSION + 1;
	ck_assert_int_eq(gcdl_join_on_hello(&w, &h, 99, MAC_A, 0, NULL, 0, 20, 0, 1, &st),
			 GCDL_JOIN_ACT_REFUSE);
	ck_assert_uint_eq(st, GCDL_JOIN_REFUSED_VERSION);
	h.version = GCDL_JOIN_VERSION;
	/* an id beyond N */
	ck_assert_int_eq(gcdl_join_on_hello(NULL, &h, 99, MAC_A, 0, NULL, 0, 20, 0, 1, &st),
			 GCDL_JOIN_ACT_REFUSE);
	ck_assert_uint_eq(st, GCDL_JOIN_REFUSED_ID);
	/* a MAC the profile does not give this worker */
	ck_assert_int_eq(gcdl_join_on_hello(&w, &h, 99, MAC_A, 0, MAC_B, 0, 20, 0, 1, &st),
			 GCDL_JOIN_ACT_IGNORE);
	/* joins at round 7 */
	ck_assert_int_eq(gcdl_join_on_hello(&w, &h, 99, MAC_A, 2, MAC_A, 7, 20, 0, 1, &st),
			 GCDL_JOIN_ACT_JOIN);
	ck_assert_uint_eq(st, GCDL_JOIN_ACCEPTED);
	ck_assert_uint_eq(w.joins, 1);
	ck_assert_uint_eq(w.port, 2);
	ck_assert_uint_eq(w.since_round, 7);
	ck_assert_mem_eq(w.mac, MAC_A, 6);
	/* a retried hello is answered again but is neither a join nor a resync */
	ck_assert_int_eq(gcdl_join_on_hello(&w, &h, 99, MAC_A, 2, NULL, 8, 20, 0, 1, &st),
			 GCDL_JOIN_ACT_RESEND);
	ck_assert_uint_eq(w.joins, 1);
	ck_assert_uint_eq(w.resyncs, 0);
	ck_assert_int_eq(gcdl_join_on_hello(&w, &h, 99, MAC_A, 2, NULL, 9, 20, 1, 1, &st),
			 GCDL_JOIN_ACT_RESEND);
	ck_assert_uint_eq(w.resyncs, 1);
	ck_assert_uint_eq(w.since_round, 7);
	/* while it is present, a hello for it from another MAC is ignored, also
	 * one with a new incarnation (a spoof, or a replay from an earlier run) */
	h.incarnation = 6;
	ck_assert_int_eq(gcdl_join_on_hello(&w, &h, 99, MAC_B, 3, NULL, 26, 20, 0, 1, &st),
			 GCDL_JOIN_ACT_IGNORE);
	ck_assert_uint_eq(w.joins, 1);
	ck_assert_mem_eq(w.mac, MAC_A, 6);
	ck_assert_uint_eq(w.port, 2);
	/* once it is absent (silent 20 rounds after its join at 7), a restart
	 * (new incarnation) from another MAC and port is a rejoin */
	ck_assert_int_eq(gcdl_join_on_hello(&w, &h, 99, MAC_B, 3, NULL, 40, 20, 0, 1, &st),
			 GCDL_JOIN_ACT_JOIN);
	ck_assert_uint_eq(w.joins, 2);
	ck_assert_uint_eq(w.since_round, 40);
	ck_assert_uint_eq(w.port, 3);
	ck_assert_mem_eq(w.mac, MAC_B, 6);
}
END_TEST

/* With a job key, a hello under it (anyone may have recorded one) is only
 * challenged: the session goes back, nothing in the table changes; the join
 * takes a request proven under the session key. */
START_TEST(unproven_hello_is_challenged)
{
	struct gcdl_join_worker w, before;
	struct gcdl_hello h = { .version = GCDL_JOIN_VERSION, .worker = 1, .profile_hash = 99,
				.incarnation = 5, .round = GCDL_JOIN_NONE };
	uint32_t st;

	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(gcdl_join_on_hello(&w, &h, 99, MAC_A, 2, NULL, 7, 20, 0, 0, &st),
			 GCDL_JOIN_ACT_CHALLENGE);
	ck_assert_uint_eq(st, GCDL_JOIN_CHALLENGE);
	ck_assert_int_eq(w.joined, 0);
	ck_assert_uint_eq(w.joins, 0);
	/* proven: the join */
	ck_assert_int_eq(gcdl_join_on_hello(&w, &h, 99, MAC_A, 2, NULL, 7, 20, 1, 1, &st),
			 GCDL_JOIN_ACT_JOIN);
	/* a replayed hello of an earlier incarnation, from its own MAC: challenged,
	 * the table untouched (it used to rejoin the worker) */
	before = w;
	h.incarnation = 4;
	ck_assert_int_eq(gcdl_join_on_hello(&w, &h, 99, MAC_A, 1, NULL, 9, 20, 0, 0, &st),
			 GCDL_JOIN_ACT_CHALLENGE);
	ck_assert_mem_eq(&w, &before, sizeof(w));
	/* the same from another MAC while the worker is present: ignored */
	ck_assert_int_eq(gcdl_join_on_hello(&w, &h, 99, MAC_B, 1, NULL, 9, 20, 0, 0, &st),
			 GCDL_JOIN_ACT_IGNORE);
	ck_assert_mem_eq(&w, &before, sizeof(w));
	/* refusals are answered unproven (nothing to protect), counted */
	h.profile_hash = 98;
	ck_assert_int_eq(gcdl_join_on_hello(&w, &h, 99, MAC_A, 1, NULL, 9, 20, 0, 0, &st),
			 GCDL_JOIN_ACT_REFUSE);
	ck_assert_uint_eq(w.refused, 1);
	ck_assert_int_eq(w.joined, 1);
	ck_assert(w.incarnation == 5);
}
END_TEST

START_TEST(expected_until_absent)
{
	struct gcdl_join_worker w;

	memset(&w, 0, sizeof(w));
	ck_assert(!gcdl_join_expected(&w, 0, 20));
	w.joined = 1;
	w.since_round = 10;
	ck_assert(gcdl_join_expected(&w, 10, 20));
	ck_assert(gcdl_join_expected(&w, 29, 20));
	ck_assert(!gcdl_join_expected(&w, 30, 20));
	/* sent round 40 (last_round is 1-based) */
	w.last_round = 41;
	ck_assert(gcdl_join_expected(&w, 60, 20));
	ck_assert(!gcdl_join_expected(&w, 61, 20));
	ck_assert(!gcdl_join_expected(NULL, 0, 20));
}
END_TEST

START_TEST(link_ranges)
{
	struct gcdl_config c = good_config();
	struct gcdl_link l;
	uint32_t lo, n;

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(gcdl_link_on_config(&l, &c), 0);
	ck_assert_int_eq(l.state, GCDL_LINK_MODEL);
	ck_assert_uint_eq(l.round, 12);
	/* coords 40..83 in frames of 7: frames 5 (35..41) to 11 (77..83) */
	ck_assert_uint_eq(l.frames, 7);
	gcdl_link_clip(&l, 35, 7, &lo, &n);
	ck_assert_uint_eq(lo, 40);
	ck_assert_uint_eq(n, 2);
	gcdl_link_clip(&l, 28, 7, &lo, &n);
	ck_assert_uint_eq(n, 0);
	gcdl_link_clip(&l, 77, 7, &lo, &n);
	ck_assert_uint_eq(lo, 77);
	ck_assert_uint_eq(n, 7);
	c.status = GCDL_JOIN_REFUSED_PROFILE;
	ck_assert_int_eq(gcdl_link_on_config(&l, &c), -EINVAL);
	ck_assert_int_eq(gcdl_link_on_config(NULL, &c), -EINVAL);
}
END_TEST

START_TEST(profile_network_keys)
{
	struct gcdl_profile p;
	char err[512];
	uint64_t h;

	gcdl_profile_defaults(&p);
	ck_assert_int_eq(p.topology, GCDL_TOPO_STAR);
	ck_assert_uint_eq(p.aggregators, 1);
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), 0);
	h = gcdl_profile_hash(&p);
	/* [network] is part of what nodes must agree on, [dataplane] is not */
	ck_assert_int_eq(gcdl_profile_set(&p, "dataplane.burst", "16", err, sizeof(err)), 0);
	ck_assert(gcdl_profile_hash(&p) == h);
	ck_assert_int_eq(gcdl_profile_set(&p, "network.topology", "sharded", err, sizeof(err)), 0);
	ck_assert(gcdl_profile_hash(&p) != h);
	ck_assert_int_eq(gcdl_profile_set(&p, "network.topology", "ring", err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(gcdl_profile_set(&p, "network.aggregators", "2", err, sizeof(err)), 0);
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), 0);
	/* star has one aggregator */
	ck_assert_int_eq(gcdl_profile_set(&p, "network.topology", "star", err, sizeof(err)), 0);
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "network.aggregators"));
	ck_assert_int_eq(gcdl_profile_set(&p, "network.aggregators", "1", err, sizeof(err)), 0);
	/* MAC lists: one per node, well formed */
	ck_assert_int_eq(gcdl_profile_set(&p, "network.aggregator_macs",
					  "02:00:00:00:00:0a,02:00:00:00:00:0b", err, sizeof(err)),
			 0);
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "network.aggregator_macs"));
	ck_assert_int_eq(gcdl_profile_set(&p, "network.aggregator_macs", "02:00:00:00:00:0a",
					  err, sizeof(err)), 0);
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), 0);
	ck_assert_int_eq(gcdl_profile_set(&p, "network.worker_macs", "02:00:00:00:00:01",
					  err, sizeof(err)), 0);
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "network.worker_macs"));
	ck_assert_int_eq(gcdl_profile_set(&p, "network.worker_macs", "zz", err, sizeof(err)), 0);
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);
}
END_TEST

static Suite *
join_suite(void)
{
	Suite *s = suite_create("join");
	TCase *t = tcase_create("join");

	tcase_add_test(t, hello_round_trip_big_endian);
	tcase_add_test(t, hello_rejects_bad_input);
	tcase_add_test(t, config_round_trip);
	tcase_add_test(t, config_rejects_inconsistent);
	tcase_add_test(t, shard_ranges_cover_every_chunk_once);
	tcase_add_test(t, mac_lists);
	tcase_add_test(t, join_table_decisions);
	tcase_add_test(t, unproven_hello_is_challenged);
	tcase_add_test(t, expected_until_absent);
	tcase_add_test(t, link_ranges);
	tcase_add_test(t, profile_network_keys);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(join_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
