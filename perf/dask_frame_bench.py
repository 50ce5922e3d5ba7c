#!/usr/bin/python3
"""Dask peer of FrameBench (issue 6): filter(x > 0), assign(z = x + y), z.sum() on a persisted dask
DataFrame of two float64 columns, 2 worker processes x 1 thread, next to a single-threaded numpy
computation over the same arrays in the same run. Uniform [-1, 1) data, like Frame.random.

    /usr/bin/python3 perf/dask_frame_bench.py [--rows 100000000] [--partitions 16] [--runs 3]

Prints one JSON object (milliseconds per run, rows/s, GB/s of column data, load average).
"""
import argparse
import json
import os
import sys
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--partitions", type=int, default=16)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    import dask
    import dask.dataframe as dd
    import pandas as pd
    from distributed import Client, LocalCluster

    n, parts = args.rows, args.partitions
    bounds = [n * p // parts for p in range(parts + 1)]

    def make(p):
        rng = np.random.default_rng(7 + p)
        m = bounds[p + 1] - bounds[p]
        return pd.DataFrame({"x": rng.uniform(-1, 1, m), "y": rng.uniform(-1, 1, m)})

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        meta = pd.DataFrame({"x": np.array([], dtype="f8"), "y": np.array([], dtype="f8")})
        df = dd.from_delayed([dask.delayed(make)(p) for p in range(parts)], meta=meta)
        df = client.persist(df)
        from distributed import wait
        wait(df)

        def pipeline():
            d = df[df.x > 0]
            d = d.assign(z=d.x + d.y)
            return d.z.sum().compute()

        def numpy_loop(x, y):
            m = x > 0
            return float(np.sum(x[m] + y[m]))

        frames = [make(p) for p in range(parts)]
        x = np.concatenate([f.x.values for f in frames])
        y = np.concatenate([f.y.values for f in frames])
        del frames

        expected = numpy_loop(x, y)
        got = pipeline()
        assert abs(got - expected) <= 1e-6 * max(1.0, abs(expected)), (got, expected)

        out = {"rows": n, "partitions": parts, "load_before": os.getloadavg()}
        for name, fn in (("dask", pipeline), ("numpy_single_thread", lambda: numpy_loop(x, y))):
            fn()  # warm
            ms = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                fn()
                ms.append((time.perf_counter() - t0) * 1000)
            best = min(ms)
            med = sorted(ms)[len(ms) // 2]
            out[name] = {"ms": [round(v, 1) for v in ms], "median_ms": round(med, 1),
                         "rows_per_s": round(n / (med / 1000)), "gb_per_s": round(16 * n / (med / 1000) / 1e9, 3),
                         "best_ms": round(best, 1)}
            print(f"{name}: median {med:.0f} ms", file=sys.stderr)
        out["load_after"] = os.getloadavg()
        print(json.dumps(out))


if __name__ == "__main__":
    main()
