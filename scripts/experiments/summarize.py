#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Summarise one sweep of scripts/experiments/run.sh.

    summarize.py NAME OUT

Reads OUT/raw/NAME/*.csv (gcdl-sim metrics, or --variance-out rows for the
variance sweep) and writes OUT/NAME/summary.csv, OUT/NAME/summary.md and the
data files plots.sh draws (OUT/NAME/*.dat). Means and sample standard
deviations are over the seeds of each point. Targets: test accuracy 0.80 for
softmax, 0.84 for the MLP. "budget" is the smallest final uplink bit count of
any run in the group compared (so every run has data up to it); acc_at_budget
is the test accuracy of the last evaluation at or below it.
Exit status 0, 1 when an input is malformed or missing.
"""
import csv
import glob
import math
import os
import re
import statistics
import sys

METRICS = ["round", "method", "train_loss", "test_accuracy", "uplink_bits", "downlink_bits",
           "stragglers", "wall_ms"]
VARIANCE = ["method", "layout", "decoder", "workers", "partitions", "redundancy", "p",
            "packet_loss", "rounds", "draws", "grad_norm2", "mse", "mse_stderr", "variance",
            "bias2", "rel_mse", "stragglers", "empty_chunks"]
TARGET = {"softmax": 0.80, "mlp": 0.84}

# the fields of each sweep's run ids (ID = fields joined by '-', then -sSEED)
IDS = {
    "methods": re.compile(r"^(?P<model>softmax|mlp)-(?P<part>iid|label)-(?P<method>\w+?)-"
                          r"(?P<dl>onebit|relay|float32)-s(?P<seed>\d+)$"),
    "stragglers": re.compile(r"^d(?P<d>\d+)-p(?P<p>[0-9.]+)-s(?P<seed>\d+)$"),
    "layouts": re.compile(r"^d(?P<d>\d+)-(?P<layout>\w+)-s(?P<seed>\d+)$"),
    "decoders": re.compile(r"^(?P<decoder>normalised|unbiased)-loss(?P<loss>[0-9.]+)-s(?P<seed>\d+)$"),
    "variance": re.compile(r"^(?P<part>iid|label)-(?P<method>\w+)-d(?P<d>\d+)-(?P<layout>\w+)-s(?P<seed>\d+)$"),
    "ef": re.compile(r"^(?P<model>softmax|mlp)-(?P<part>iid|label)-p(?P<p>[0-9.]+)-b(?P<batch>\d+)-"
                     r"(?P<cfg>[\w.]+?)-s(?P<seed>\d+)$"),
}
GROUP = {
    "methods": ["model", "part", "method", "dl"],
    "stragglers": ["d", "p"],
    "layouts": ["d", "layout"],
    "decoders": ["decoder", "loss"],
    "variance": ["part", "method", "d", "layout"],
    "ef": ["model", "part", "p", "batch", "cfg"],
}
# runs compared at one bit budget
BUDGET_SET = {
    "methods": ["model", "part"],
    "stragglers": [],
    "layouts": ["d"],
    "decoders": [],
    "ef": ["model", "part", "p", "batch"],
}
# the ef sweep's configurations, in the order its tables list them
EF_ORDER = ["sgc", "sgc_m0.9", "sgc_m0.5", "sign", "gc", "gc_m0.9", "gc_m0.5", "gc_lr0.02", "ef",
            "ef_m0.9", "ef_m0.5", "ef_m0", "ef_m0.5_b128", "ef_m0.5_b512", "efw_m0.9",
            "ef_m0.5_relay", "ef_lr0.02"]
# "the mean of the last 8 evaluations": the accuracy figure of the ef sweep
LAST = 8


def fail(msg):
    print("summarize.py: " + msg, file=sys.stderr)
    sys.exit(1)


# the bits a sweep compares runs on: methods total bits (uplink + downlink:
# their downlinks differ), the others uplink bits (their downlinks are alike)
TOTAL_BITS = {"methods", "ef"}


def read_metrics(path, total=False):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0] != METRICS:
        fail("%s: header is not %s" % (path, ",".join(METRICS)))
    evals = []
    last_round = 0
    for i, r in enumerate(rows[1:], 2):
        if len(r) != len(METRICS):
            fail("%s:%d: %d fields, want %d" % (path, i, len(r), len(METRICS)))
        rnd, up, down = int(r[0]), int(r[4]), int(r[5])
        bits = up + down if total else up
        if rnd != last_round + 1:
            fail("%s:%d: round %d after %d" % (path, i, rnd, last_round))
        last_round = rnd
        if r[3] != "":
            acc, loss = float(r[3]), float(r[2])
            if not (0 <= acc <= 1) or not math.isfinite(loss):
                fail("%s:%d: bad accuracy or loss" % (path, i))
            evals.append((rnd, bits, acc, loss, up))
    if not evals:
        fail("%s: no evaluated row" % path)
    return evals


def read_variance(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) != 2 or rows[0] != VARIANCE or len(rows[1]) != len(VARIANCE):
        fail("%s: want the header %s and one row" % (path, ",".join(VARIANCE)))
    rec = dict(zip(VARIANCE, rows[1]))
    for k in ("grad_norm2", "mse", "variance", "bias2", "rel_mse"):
        v = float(rec[k])
        if not math.isfinite(v) or v < 0:
            fail("%s: %s = %s" % (path, k, rec[k]))
        rec[k] = v
    return rec


def mean_sd(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None, None
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def fmt(x, nd=4):
    if x is None:
        return ""
    if isinstance(x, float) and (abs(x) >= 1e5 or (x != 0 and abs(x) < 1e-3)):
        return "%.4g" % x
    return ("%." + str(nd) + "f") % x if isinstance(x, float) else str(x)


def pm(m, s, nd=4):
    if m is None:
        return "n/a"
    if abs(m) >= 1e5:
        return "%.3g ± %.2g" % (m, s)
    return ("%." + str(nd) + "f ± %." + str(nd) + "f") % (m, s)


def model_of(name, key):
    return key.get("model", "softmax")


def to_target(evals, target):
    for rnd, bits, acc, _, _ in evals:
        if acc >= target:
            return rnd, bits
    return None, None


def at_budget(evals, budget, col=1):
    """Accuracy of the last evaluation at or below the budget (col 1: the
    sweep's bits, 4: uplink bits)."""
    best = None
    for e in evals:
        if e[col] <= budget:
            best = e[2]
    return best


def write_curves(path, groups, label_keys):
    """Mean over seeds of (bits, accuracy, loss) at each evaluated round; one
    gnuplot index block per group, titled in a comment line."""
    with open(path, "w") as f:
        for key in sorted(groups):
            runs = groups[key]
            rounds = sorted(set.intersection(*[set(e[0] for e in r["evals"]) for r in runs]))
            f.write("# %s\n" % " ".join(str(dict(key)[k]) for k in label_keys))
            f.write("# round mean_bits mean_acc sd_acc mean_loss mean_uplink_bits\n")
            for rnd in rounds:
                pts = [next(e for e in r["evals"] if e[0] == rnd) for r in runs]
                b = statistics.fmean(p[1] for p in pts)
                a, s = mean_sd([p[2] for p in pts])
                l = statistics.fmean(p[3] for p in pts)
                u = statistics.fmean(p[4] for p in pts)
                f.write("%d %.6g %.6f %.6f %.6f %.6g\n" % (rnd, b, a, s, l, u))
            f.write("\n\n")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in IDS:
        fail("usage: summarize.py %s OUT" % "|".join(IDS))
    name, out = sys.argv[1], sys.argv[2]
    files = sorted(glob.glob(os.path.join(out, "raw", name, "*.csv")))
    if not files:
        fail("no runs in %s" % os.path.join(out, "raw", name))
    os.makedirs(os.path.join(out, name), exist_ok=True)
    runs = []
    for path in files:
        rid = os.path.basename(path)[:-4]
        m = IDS[name].match(rid)
        if not m:
            fail("%s: run id does not match the sweep" % path)
        key = m.groupdict()
        run = {"key": key, "path": path}
        if name == "variance":
            run["var"] = read_variance(path)
        else:
            run["evals"] = read_metrics(path, name in TOTAL_BITS)
        runs.append(run)
    groups = {}
    for run in runs:
        gk = tuple((k, run["key"][k]) for k in GROUP[name])
        groups.setdefault(gk, []).append(run)

    if name == "variance":
        summarize_variance(name, out, groups)
        return
    budgets = {}
    up_budgets = {}
    for run in runs:
        bk = tuple(run["key"][k] for k in BUDGET_SET[name])
        final_bits = run["evals"][-1][1]
        budgets[bk] = min(budgets.get(bk, final_bits), final_bits)
        final_up = run["evals"][-1][4]
        up_budgets[bk] = min(up_budgets.get(bk, final_up), final_up)

    header = GROUP[name] + ["seeds", "target", "final_acc_mean", "final_acc_sd", "reached",
                            "rounds_to_target_mean", "rounds_to_target_sd",
                            "bits_to_target_mean", "bits_to_target_sd", "budget_bits",
                            "acc_at_budget_mean", "acc_at_budget_sd", "bits_per_round_mean",
                            "uplink_budget_bits", "acc_at_uplink_budget_mean",
                            "acc_at_uplink_budget_sd", "last8_mean", "last8_sd", "final_bits_mean"]
    rows = []
    for gk in sorted(groups, key=lambda g: sort_key(name, g)):
        rs = groups[gk]
        key = dict(gk)
        target = TARGET[model_of(name, key)]
        budget = budgets[tuple(key[k] for k in BUDGET_SET[name])]
        fa = mean_sd([r["evals"][-1][2] for r in rs])
        tt = [to_target(r["evals"], target) for r in rs]
        rt = mean_sd([t[0] for t in tt])
        bt = mean_sd([t[1] for t in tt])
        ab = mean_sd([at_budget(r["evals"], budget) for r in rs])
        bpr = statistics.fmean(r["evals"][-1][1] / r["evals"][-1][0] for r in rs)
        reached = sum(1 for t in tt if t[0] is not None)
        up_budget = up_budgets[tuple(key[k] for k in BUDGET_SET[name])]
        au = mean_sd([at_budget(r["evals"], up_budget, 4) for r in rs])
        l8 = mean_sd([statistics.fmean(e[2] for e in r["evals"][-LAST:]) for r in rs])
        fb = statistics.fmean(r["evals"][-1][1] for r in rs)
        rows.append([key[k] for k in GROUP[name]] + [
            len(rs), target, fa[0], fa[1], "%d/%d" % (reached, len(rs)), rt[0], rt[1],
            bt[0], bt[1], budget, ab[0], ab[1], bpr, up_budget, au[0], au[1], l8[0], l8[1], fb])
    with open(os.path.join(out, name, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            w.writerow([fmt(x, 6) if isinstance(x, float) else ("" if x is None else x)
                        for x in row])
    bits = "total bits" if name in TOTAL_BITS else "bits"
    if name == "ef":
        write_ef(out, name, groups, rows)
        return
    with open(os.path.join(out, name, "summary.md"), "w") as f:
        f.write("| %s | seeds | final acc | reached target | rounds to target | "
                "%s to target | acc at %s budget | %s/round | acc at uplink budget |\n"
                % (" | ".join(GROUP[name]), bits, bits, bits))
        f.write("|%s\n" % ("---|" * (len(GROUP[name]) + 8)))
        for row in rows:
            g = len(GROUP[name])
            f.write("| %s | %d | %s | %s (target %.2f) | %s | %s | %s (%.3g) | %.3g | %s (%.3g) |\n" % (
                " | ".join(str(x) for x in row[:g]), row[g], pm(row[g + 2], row[g + 3]),
                row[g + 4], row[g + 1], pm(row[g + 5], row[g + 6], 1),
                pm(row[g + 7], row[g + 8]), pm(row[g + 10], row[g + 11]), row[g + 9],
                row[g + 12], pm(row[g + 14], row[g + 15]), row[g + 13]))
    # data for the plots
    if name == "methods":
        for model in ("softmax", "mlp"):
            for part in ("iid", "label"):
                sel = {g: rs for g, rs in groups.items()
                       if dict(g)["model"] == model and dict(g)["part"] == part}
                if sel:
                    write_curves(os.path.join(out, name, "curves_%s_%s.dat" % (model, part)),
                                 sel, ["method", "dl"])
    elif name == "stragglers":
        with open(os.path.join(out, name, "budget.dat"), "w") as f:
            for d in sorted({dict(g)["d"] for g in groups}, key=int):
                f.write("# d=%s\n# p acc_at_budget_mean sd final_acc_mean\n" % d)
                for row in rows:
                    if row[0] == d and row[12] is not None:
                        f.write("%s %.6f %.6f %.6f\n" % (row[1], row[12], row[13], row[4]))
                f.write("\n\n")
    elif name == "layouts":
        for d in sorted({dict(g)["d"] for g in groups}, key=int):
            write_curves(os.path.join(out, name, "curves_d%s.dat" % d),
                         {g: rs for g, rs in groups.items() if dict(g)["d"] == d}, ["layout"])
    elif name == "decoders":
        write_curves(os.path.join(out, name, "curves.dat"), groups, ["decoder", "loss"])


def write_ef(out, name, groups, rows):
    """The ef sweep's table: per setting (model, partitions, p, minibatch), each
    configuration's mean of the last 8 evaluations, its gap to the best sgc
    configuration of the setting, total bits and sgc's bits over them, and
    the accuracy at the setting's equal-bits budget; and one curve file per
    setting for the plots."""
    g = len(GROUP[name])
    col = {c: i for i, c in enumerate(GROUP[name] + [
        "seeds", "target", "final_acc_mean", "final_acc_sd", "reached", "rt", "rts", "bt", "bts",
        "budget", "ab", "abs", "bpr", "ub", "au", "aus", "l8", "l8s", "fb"])}
    settings = []
    for row in rows:
        st = tuple(row[:g - 1])
        if st not in settings:
            settings.append(st)
    with open(os.path.join(out, name, "summary.md"), "w") as f:
        f.write("| model | partitions | p | minibatch | configuration | seeds | last-8 mean | "
                "vs best sgc (points) | total bits | sgc bits / these | acc at equal bits "
                "(budget) |\n|%s\n" % ("---|" * 11))
        for st in settings:
            mine = [r for r in rows if tuple(r[:g - 1]) == st]
            sgc = [r for r in mine if r[g - 1].startswith("sgc")]
            best = max((r[col["l8"]] for r in sgc), default=None)
            sgc_bits = min((r[col["fb"]] for r in sgc), default=None)
            for r in mine:
                gap = "%+.2f" % (100 * (r[col["l8"]] - best)) if best is not None else "n/a"
                ratio = "%.1f" % (sgc_bits / r[col["fb"]]) if sgc_bits else "n/a"
                f.write("| %s | %s | %s | %s | %s | %d | %s | %s | %.3g | %s | %s (%.3g) |\n" % (
                    r[0], r[1], r[2], "full" if r[3] == "0" else r[3], r[4], r[col["seeds"]],
                    pm(r[col["l8"]], r[col["l8s"]]), gap, r[col["fb"]], ratio,
                    pm(r[col["ab"]], r[col["abs"]]), r[col["budget"]]))
    for st in settings:
        sel = {gk: rs for gk, rs in groups.items() if tuple(dict(gk)[k] for k in GROUP[name][:-1]) == st}
        write_curves(os.path.join(out, name, "curves_%s_%s_p%s_b%s.dat" % st), sel, ["cfg"])
    # softmax, label partitions, minibatches: the last-8 mean against p
    with open(os.path.join(out, name, "p.dat"), "w") as f:
        pts = [r for r in rows if r[0] == "softmax" and r[1] == "label" and r[3] != "0"]
        for cfg in [c for c in EF_ORDER if any(r[4] == c for r in pts)]:
            f.write("# %s\n# p last8_mean sd\n" % cfg)
            for r in sorted((r for r in pts if r[4] == cfg), key=lambda r: float(r[2])):
                f.write("%s %.6f %.6f\n" % (r[2], r[col["l8"]], r[col["l8s"]]))
            f.write("\n\n")


def sort_key(name, g):
    key = dict(g)
    if name == "ef":
        return [{"softmax": 0, "mlp": 1}[key["model"]], {"label": 0, "iid": 1}[key["part"]],
                int(key["batch"]), float(key["p"]),
                EF_ORDER.index(key["cfg"]) if key["cfg"] in EF_ORDER else len(EF_ORDER)]
    order = {"onebit_gc": 0, "sgc": 1, "signsgd_mv": 2, "ignore": 3, "onebit_uncoded": 4,
             "onebit": 0, "relay": 1, "float32": 2,
             "pairwise": 0, "cyclic": 1, "random": 2, "fractional": 3,
             "softmax": 0, "mlp": 1, "iid": 0, "label": 1, "normalised": 0, "unbiased": 1}
    out = []
    for k in GROUP[name]:
        v = key[k]
        out.append(order.get(v, float(v) if re.match(r"^[0-9.]+$", v) else 0))
    return out


def summarize_variance(name, out, groups):
    header = GROUP[name] + ["seeds", "draws", "grad_norm2_mean", "rel_mse_mean", "rel_mse_sd",
                            "mse_mean", "variance_mean", "bias2_mean"]
    rows = []
    for gk in sorted(groups, key=lambda g: sort_key(name, g)):
        rs = [r["var"] for r in groups[gk]]
        key = dict(gk)
        rm = mean_sd([r["rel_mse"] for r in rs])
        rows.append([key[k] for k in GROUP[name]] + [
            len(rs), int(rs[0]["draws"]), statistics.fmean(r["grad_norm2"] for r in rs),
            rm[0], rm[1], statistics.fmean(r["mse"] for r in rs),
            statistics.fmean(r["variance"] for r in rs),
            statistics.fmean(r["bias2"] for r in rs)])
    with open(os.path.join(out, name, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            w.writerow([fmt(x, 6) if isinstance(x, float) else x for x in row])
    with open(os.path.join(out, name, "summary.md"), "w") as f:
        f.write("| partitions | method | d | layout | seeds | draws | E‖g − ∇F‖² / ‖∇F‖² | "
                "variance | bias² |\n|---|---|---|---|---|---|---|---|---|\n")
        for row in rows:
            f.write("| %s | %s | %s | %s | %d | %d | %.4g ± %.2g | %.4g | %.3g |\n" % (
                row[0], row[1], row[2], row[3], row[4], row[5], row[7], row[8],
                row[10], row[11]))
    with open(os.path.join(out, name, "variance.dat"), "w") as f:
        for part in ("iid", "label"):
            for method in ("onebit_gc", "sgc", "onebit_gc_ef"):
                for layout in ("pairwise", "cyclic", "random", "fractional"):
                    f.write("# %s %s %s\n# d rel_mse_mean sd\n" % (part, method, layout))
                    for row in rows:
                        if row[0] == part and row[1] == method and row[3] == layout:
                            f.write("%s %.6g %.6g\n" % (row[2], row[7], row[8]))
                    f.write("\n\n")


if __name__ == "__main__":
    main()
