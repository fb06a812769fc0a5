-- SPDX-License-Identifier: BSD-3-Clause
-- Wireshark/tshark dissector for gcdl frames (EtherType 0x88B5), following
-- include/gcdl/frame.h: the 36-byte header after Ethernet, then the payload
-- (1-bit gradient: block scales as big-endian float32, then packed bits;
-- float/update/model: coord_count big-endian float32; sign: packed bits;
-- hello/config/resync, mesh commit/repair: opaque bytes).
--
--   tshark -r run.pcap -X lua_script:scripts/wireshark/gcdl.lua \
--       -T fields -e gcdl.round -e gcdl.sender -e gcdl.chunk -e gcdl.type
--
-- or copy it to ~/.local/lib/wireshark/plugins/ for Wireshark. Fields that do
-- not fit in a truncated frame are left out and flagged (expert info). The
-- CRC-32C is checked (gcdl.crc32.good; a bad one is flagged and marked
-- [BAD CRC] in the info column); the tag of a keyed frame is shown, not
-- verified (that needs the job key).

local gcdl = Proto("gcdl", "gcdl 1-bit gradient coding")

local MAGIC = 0x4743
local HDR_LEN = 36

local types = {
	[1] = "onebit", [2] = "float", [3] = "sign", [4] = "update",
	[5] = "model", [6] = "hello", [7] = "config", [8] = "resync",
	[9] = "commit", [10] = "repair", [11] = "update1",
}

local f = {
	magic = ProtoField.uint16("gcdl.magic", "Magic", base.HEX),
	version = ProtoField.uint8("gcdl.version", "Version", base.DEC),
	type = ProtoField.uint8("gcdl.type", "Type", base.DEC, types),
	job_id = ProtoField.uint32("gcdl.job_id", "Job id", base.DEC),
	round = ProtoField.uint32("gcdl.round", "Round t (0-based; round t+1 in gcdl's progress, metrics and telemetry)", base.DEC),
	sender = ProtoField.uint16("gcdl.sender", "Sender", base.DEC),
	flags = ProtoField.uint16("gcdl.flags", "Flags", base.HEX),
	flag_auth = ProtoField.bool("gcdl.flags.auth", "Authentication tag follows the payload", 16, nil, 0x0001),
	tag = ProtoField.bytes("gcdl.tag", "Tag (keyed BLAKE2b-128)"),
	chunk = ProtoField.uint32("gcdl.chunk", "Chunk", base.DEC),
	first_coord = ProtoField.uint32("gcdl.first_coord", "First coordinate", base.DEC),
	coord_count = ProtoField.uint32("gcdl.coord_count", "Coordinate count", base.DEC),
	scale_block = ProtoField.uint16("gcdl.scale_block", "Scale block", base.DEC),
	payload_len = ProtoField.uint16("gcdl.payload_len", "Payload length", base.DEC),
	crc32 = ProtoField.uint32("gcdl.crc32", "CRC-32C", base.HEX),
	crc_good = ProtoField.bool("gcdl.crc32.good", "CRC-32C good"),
	scales = ProtoField.none("gcdl.scales", "Block scales"),
	scale_count = ProtoField.uint32("gcdl.scale_count", "Scale count", base.DEC),
	scale = ProtoField.float("gcdl.scale", "Scale"),
	bits = ProtoField.bytes("gcdl.bits", "Packed bits"),
	values = ProtoField.none("gcdl.values", "Values"),
	value_count = ProtoField.uint32("gcdl.value_count", "Value count", base.DEC),
	value = ProtoField.float("gcdl.value", "Value"),
	data = ProtoField.bytes("gcdl.data", "Data"),
}
gcdl.fields = {
	f.magic, f.version, f.type, f.job_id, f.round, f.sender, f.flags, f.chunk,
	f.first_coord, f.coord_count, f.scale_block, f.payload_len, f.crc32,
	f.scales, f.scale_count, f.scale, f.bits, f.values, f.value_count, f.value, f.data,
	f.flag_auth, f.tag, f.crc_good,
}

local ex_truncated = ProtoExpert.new("gcdl.truncated", "Frame shorter than its header or payload_len",
	expert.group.MALFORMED, expert.severity.ERROR)
local ex_magic = ProtoExpert.new("gcdl.bad_magic", "Magic is not 0x4743",
	expert.group.MALFORMED, expert.severity.WARN)
local ex_crc = ProtoExpert.new("gcdl.bad_crc", "CRC-32C does not match header and payload (gcdl drops the frame)",
	expert.group.CHECKSUM, expert.severity.ERROR)
local ex_tag = ProtoExpert.new("gcdl.tag_unverified", "Tag not verified (it needs the job key)",
	expert.group.SECURITY, expert.severity.NOTE)
gcdl.experts = { ex_truncated, ex_magic, ex_crc, ex_tag }

-- CRC-32C (Castagnoli, reflected 0x82F63B78), as gcdl_frame_encode() computes
-- it (frame version 2): over the header with its crc32 field zeroed, then the
-- payload
local crc_table = {}
for i = 0, 255 do
	local c = i
	for _ = 1, 8 do
		if bit32.band(c, 1) == 1 then
			c = bit32.bxor(0x82F63B78, bit32.rshift(c, 1))
		else
			c = bit32.rshift(c, 1)
		end
	end
	crc_table[i] = c
end

local function crc32_of(tvb, plen)
	local c = 0xFFFFFFFF
	local function feed(b)
		c = bit32.bxor(crc_table[bit32.band(bit32.bxor(c, b), 0xFF)], bit32.rshift(c, 8))
	end
	local head = tvb(0, 32):bytes()
	for i = 0, 31 do
		feed(head:get_index(i))
	end
	for _ = 1, 4 do
		feed(0)
	end
	if plen > 0 then
		local pl = tvb(HDR_LEN, plen):bytes()
		for i = 0, plen - 1 do
			feed(pl:get_index(i))
		end
	end
	return bit32.bxor(c, 0xFFFFFFFF)
end

-- header fields: name, offset, size
local hdr = {
	{ "magic", 0, 2 }, { "version", 2, 1 }, { "type", 3, 1 }, { "job_id", 4, 4 },
	{ "round", 8, 4 }, { "sender", 12, 2 }, { "flags", 14, 2 }, { "chunk", 16, 4 },
	{ "first_coord", 20, 4 }, { "coord_count", 24, 4 }, { "scale_block", 28, 2 },
	{ "payload_len", 30, 2 }, { "crc32", 32, 4 },
}

-- block scales of a 1-bit frame, as gcdl_frame_payload_len() counts them
local function scale_count(count, block)
	if count == 0 then
		return 0
	end
	if block == 0 then
		return 1
	end
	return math.ceil(count / block)
end

function gcdl.dissector(tvb, pinfo, tree)
	local len = tvb:len()
	pinfo.cols.protocol = "GCDL"
	local t = tree:add(gcdl, tvb(0, math.min(len, HDR_LEN)))

	for _, h in ipairs(hdr) do
		if h[2] + h[3] > len then
			t:add_proto_expert_info(ex_truncated)
			pinfo.cols.info = "gcdl, truncated header (" .. len .. " bytes)"
			return len
		end
		local item = t:add(f[h[1]], tvb(h[2], h[3]))
		if h[1] == "flags" then
			item:add(f.flag_auth, tvb(h[2], h[3]))
		end
	end

	local magic = tvb(0, 2):uint()
	local mtype = tvb(3, 1):uint()
	local round = tvb(8, 4):uint()
	local sender = tvb(12, 2):uint()
	local chunk = tvb(16, 4):uint()
	local count = tvb(24, 4):uint()
	local block = tvb(28, 2):uint()
	local plen = tvb(30, 2):uint()
	local tname = types[mtype] or ("type " .. mtype)

	if magic ~= MAGIC then
		t:add_proto_expert_info(ex_magic)
	end
	pinfo.cols.info = string.format("%s t=%u (round %u) sender=%u chunk=%u coords=%u",
		tname, round, round + 1, sender, chunk, count)
	t:append_text(string.format(", %s, t %u (round %u), sender %u, chunk %u", tname, round,
		round + 1, sender, chunk))

	-- the CRC, when the frame holds the whole payload: a frame gcdl would
	-- drop for it is flagged, in the tree and the info column
	if HDR_LEN + plen <= len and tvb(2, 1):uint() == 2 then
		local good = crc32_of(tvb, plen) == tvb(32, 4):uint()
		t:add(f.crc_good, good):set_generated()
		if not good then
			t:add_proto_expert_info(ex_crc)
			pinfo.cols.info:append(" [BAD CRC]")
		end
	end

	-- with the auth flag, the 16-byte tag right after the payload
	local flags = tvb(14, 2):uint()
	if flags % 2 == 1 then
		if HDR_LEN + plen + 16 <= len then
			local tag = t:add(f.tag, tvb(HDR_LEN + plen, 16))
			tag:add_proto_expert_info(ex_tag)
		else
			t:add_proto_expert_info(ex_truncated)
		end
	end

	-- the payload as far as the frame holds it (Ethernet padding is not payload)
	local avail = math.min(plen, len - HDR_LEN)
	if avail < plen then
		t:add_proto_expert_info(ex_truncated)
	end
	if avail <= 0 then
		return len
	end
	local off = HDR_LEN
	local stop = HDR_LEN + avail

	if mtype == 1 or mtype == 11 then
		-- 1-bit gradient and 1-bit update: block scales, then the bits
		local n = scale_count(count, block)
		local st = t:add(f.scales, tvb(off, math.min(4 * n, avail)))
		st:add(f.scale_count, n):set_generated()
		for _ = 1, n do
			if off + 4 > stop then
				st:add_proto_expert_info(ex_truncated)
				break
			end
			st:add(f.scale, tvb(off, 4))
			off = off + 4
		end
		if off < stop then
			t:add(f.bits, tvb(off, stop - off))
		end
	elseif mtype == 2 or mtype == 4 or mtype == 5 then
		local vt = t:add(f.values, tvb(off, avail))
		vt:add(f.value_count, count):set_generated()
		for _ = 1, count do
			if off + 4 > stop then
				vt:add_proto_expert_info(ex_truncated)
				break
			end
			vt:add(f.value, tvb(off, 4))
			off = off + 4
		end
	elseif mtype == 3 then
		t:add(f.bits, tvb(off, avail))
	else
		t:add(f.data, tvb(off, avail))
	end
	return len
end

DissectorTable.get("ethertype"):add(0x88b5, gcdl)
