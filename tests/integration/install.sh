#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# meson install --destdir puts every program, every profile, the Wireshark
# dissector and the licence in place; each installed program's --version
# names the project's version and the tree's git description; the installed
# gcdl-sim runs an installed profile.
. "$(dirname "$0")/common.sh"

BUILD=$(cd "$(dirname "$GCDL")/.." && pwd)
command -v meson >/dev/null || fail "meson not found"
meson install -C "$BUILD" --destdir "$TMP/dest" --no-rebuild >"$TMP/install.log" 2>&1 ||
	fail "meson install failed: $(tail -n 5 "$TMP/install.log")"
opt() { # name: a meson option's value
	meson introspect "$BUILD" --buildoptions |
		python3 -c 'import json, sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == sys.argv[1]][0])' "$1"
}
prefix=$(opt prefix) bindir=$(opt bindir) datadir=$(opt datadir)
D=$TMP/dest$prefix
version=$(meson introspect "$BUILD" --projectinfo | python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
[ -n "$version" ] || fail "no project version"
vcs=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)

for p in gcdl gcdl-sim gcdl-bench; do
	[ -x "$D/$bindir/$p" ] || fail "$p not installed in $bindir"
	out=$("$D/$bindir/$p" --version) || fail "$p --version exited with $?"
	assert_eq "$(head -n 1 <<<"$out")" "$p $version (git $vcs)" "$p --version"
done
# gcdl also after '--', as every application option
out=$("$D/$bindir/gcdl" -- --version) || fail "gcdl -- --version exited with $?"
assert_eq "$(head -n 1 <<<"$out")" "gcdl $version (git $vcs)" "gcdl -- --version"

n=0
for f in "$ROOT"/configs/*.ini; do
	cmp -s "$f" "$D/$datadir/gcdl/configs/$(basename "$f")" || fail "profile $(basename "$f") not installed as it is"
	n=$((n + 1))
done
cmp -s "$ROOT/scripts/wireshark/gcdl.lua" "$D/$datadir/gcdl/wireshark/gcdl.lua" || fail "dissector not installed"
cmp -s "$ROOT/LICENSE" "$D/$datadir/doc/gcdl/LICENSE" || fail "LICENSE not installed"
"$D/$bindir/gcdl-sim" --profile "$D/$datadir/gcdl/configs/ci.ini" --rounds 3 --quiet \
	>"$TMP/sim.out" 2>&1 || fail "installed gcdl-sim on the installed ci.ini: $(tail -n 3 "$TMP/sim.out")"
# the PyTorch package, where Debian's python3 looks under the prefix, and its example
pyver=$(/usr/bin/python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
PKG=$D/lib/python$pyver/dist-packages/gcdl
np=0
for f in "$ROOT"/lib/python/gcdl/*.py; do
	cmp -s "$f" "$PKG/$(basename "$f")" || fail "lib/python/gcdl/$(basename "$f") not installed in $PKG"
	np=$((np + 1))
done
[ -x "$D/$datadir/gcdl/examples/torch_fmnist_cnn.py" ] || fail "the PyTorch example is not installed"
/usr/bin/python3 -c 'import sys; print(sys.path)' | grep -q "'$prefix/lib/python$pyver/dist-packages'" ||
	fail "$prefix/lib/python$pyver/dist-packages is not on python3's path"
# (PYTHONPATH comes before the tree's editable gcdl.pth: the installed copy answers)
PYTHONPATH=$D/lib/python$pyver/dist-packages /usr/bin/python3 -c "import gcdl.channel
assert gcdl.channel.__file__.startswith('$PKG'), gcdl.channel.__file__" >"$TMP/py.err" 2>&1 ||
	fail "the installed package does not import: $(tail -n 3 "$TMP/py.err")"
echo "ok: 3 programs ($version, git $vcs), $n profiles, the dissector, the licence and the Python package ($np modules) installed under $prefix"
