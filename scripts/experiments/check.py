#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Check that a run of scripts/experiments/run.sh left every expected output,
well-formed. It checks shapes and ranges, never which method wins.

    check.py OUT [NAME ...]     (default: every sweep)

Exit status 0 when everything is in place, 1 with one line per problem.
"""
import csv
import glob
import math
import os
import sys

# sweep -> (points in the grid, summary.csv header prefix, plot)
SWEEPS = {
    "methods": (60, ["model", "part", "method", "dl"], "methods_accuracy_vs_bits.png"),
    "stragglers": (15, ["d", "p"], "stragglers_budget_vs_p.png"),
    "variance": (66, ["part", "method", "d", "layout"], "variance_layouts.png"),
    "decoders": (6, ["decoder", "loss"], "decoders_curves.png"),
    "layouts": (7, ["d", "layout"], "layouts_curves.png"),
    "ef": (31, ["model", "part", "p", "batch", "cfg"], "ef_accuracy_vs_bits.png"),
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
problems = []


def problem(msg):
    problems.append(msg)


def number(text, lo=-math.inf, hi=math.inf):
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) and lo <= x <= hi else None


def check(out, name):
    points, keys, png = SWEEPS[name]
    raw = glob.glob(os.path.join(out, "raw", name, "*.csv"))
    if len(raw) == 0 or len(raw) % points != 0:
        problem("%s: %d run CSVs in raw/%s, want a multiple of %d" % (name, len(raw), name, points))
    seeds = len(raw) // points if points else 0
    path = os.path.join(out, name, "summary.csv")
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        problem("%s: %s" % (path, e))
        return
    if not rows or rows[0][:len(keys)] != keys:
        problem("%s: header does not start with %s" % (path, ",".join(keys)))
        return
    head = rows[0]
    if len(rows) - 1 != points:
        problem("%s: %d rows, want %d" % (path, len(rows) - 1, points))
    seen = set()
    for i, r in enumerate(rows[1:], 2):
        if len(r) != len(head):
            problem("%s:%d: %d fields, want %d" % (path, i, len(r), len(head)))
            continue
        rec = dict(zip(head, r))
        k = tuple(rec[x] for x in keys)
        if k in seen:
            problem("%s:%d: point %s twice" % (path, i, k))
        seen.add(k)
        if number(rec["seeds"], 1) != seeds:
            problem("%s:%d: seeds %s, want %d" % (path, i, rec["seeds"], seeds))
        if name == "variance":
            for c in ("rel_mse_mean", "mse_mean", "variance_mean", "bias2_mean", "grad_norm2_mean"):
                if number(rec[c], 0) is None:
                    problem("%s:%d: %s = '%s'" % (path, i, c, rec[c]))
            continue
        for c in ("final_acc_mean",):
            if number(rec[c], 0, 1) is None:
                problem("%s:%d: %s = '%s' is not an accuracy" % (path, i, c, rec[c]))
        if number(rec["budget_bits"], 1) is None or number(rec["bits_per_round_mean"], 1) is None:
            problem("%s:%d: bit counts missing" % (path, i))
        for c in ("acc_at_budget_mean", "rounds_to_target_mean", "bits_to_target_mean"):
            if rec[c] != "" and number(rec[c], 0) is None:
                problem("%s:%d: %s = '%s'" % (path, i, c, rec[c]))
        reached = rec["reached"].split("/")
        if len(reached) != 2 or int(reached[1]) != seeds or not 0 <= int(reached[0]) <= seeds:
            problem("%s:%d: reached = '%s'" % (path, i, rec["reached"]))
        if (rec["rounds_to_target_mean"] == "") != (reached[0] == "0"):
            problem("%s:%d: rounds_to_target and reached disagree" % (path, i))
    md = os.path.join(out, name, "summary.md")
    try:
        with open(md) as f:
            lines = [l for l in f.read().splitlines() if l.startswith("|")]
        if len(lines) != points + 2:
            problem("%s: %d table lines, want %d" % (md, len(lines), points + 2))
    except OSError as e:
        problem("%s: %s" % (md, e))
    pngs = [png] + (["methods_accuracy_vs_uplink_bits.png"] if name == "methods" else [])
    for p in pngs:
        pngp = os.path.join(out, "plots", p)
        try:
            with open(pngp, "rb") as f:
                if f.read(8) != PNG_MAGIC or os.path.getsize(pngp) < 2000:
                    problem("%s: not a PNG with a plot in it" % pngp)
        except OSError as e:
            problem("%s: %s" % (pngp, e))


def main():
    if len(sys.argv) < 2:
        print("usage: check.py OUT [%s ...]" % "|".join(SWEEPS), file=sys.stderr)
        return 1
    out, names = sys.argv[1], sys.argv[2:] or list(SWEEPS)
    for n in names:
        if n not in SWEEPS:
            problem("unknown sweep %s" % n)
            continue
        check(out, n)
    wall = os.path.join(out, "wall.txt")
    try:
        with open(wall) as f:
            have = {l.split()[0] for l in f if l.strip()}
        for n in names:
            if n in SWEEPS and n not in have:
                problem("%s: no line for %s" % (wall, n))
    except OSError as e:
        problem("%s: %s" % (wall, e))
    for p in problems:
        print("check.py: " + p, file=sys.stderr)
    if not problems:
        print("check.py: %s: %d sweep(s) complete and well-formed" % (out, len(names)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
