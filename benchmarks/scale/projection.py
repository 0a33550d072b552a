"""How many cores a 24-hour full rebuild of the OpenAlex snapshot needs, projected from
the pipeline's measured per-core rates on this machine.

Inputs: the ``--json`` file of ``benchmarks/scale/stages.py`` (per-stage seconds at
local[1] and local[2] on the whole shared corpus) and the embedding rate per core from
``benchmarks/scale/embed.py``. Each stage's work is scaled by what it is proportional
to (records, works or authorships), divided by its local[1] rate (one core's), and the
total core-seconds by a day times a parallel efficiency (by default the one measured
from local[1] to local[2], the only one this machine can show). The assumptions are
printed with the result; docs/scale.md discusses them.

    .venv/bin/python benchmarks/scale/projection.py --stages results/scale.json \\
        --embed-rate 27.7 [--works 260e6] [--authorships 1.1e9] [--efficiency 0.75] \
        [--block-factor 10]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

DAY = 86_400.0
# what each stage's work grows with
SCALES_WITH = {
    "read": "records",
    "deduplicate": "records",
    "merge": "records",
    "entities": "records",
    "write": "records",
    "disambiguate": "authorships",
    "profiles": "authorships",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", type=Path, required=True)
    parser.add_argument("--embed-rate", type=float, required=True, help="works/s per core")
    parser.add_argument("--works", type=float, default=260e6)
    parser.add_argument("--authorships", type=float, default=1.1e9)
    parser.add_argument("--efficiency", type=float, help="default: measured local[1]→local[2]")
    parser.add_argument(
        "--block-factor",
        type=float,
        default=1.0,
        help="how much more disambiguation costs per authorship in the snapshot's larger"
        " blocks than here (a sensitivity, not a measurement)",
    )
    args = parser.parse_args()
    runs = {int(k): v for k, v in json.loads(args.stages.read_text()).items()}
    one, two = runs[1], runs.get(2)
    measured = {"records": one["records"], "works": one["works"], "authorships": one["authorships"]}
    target = {"records": args.works, "works": args.works, "authorships": args.authorships}
    if args.efficiency is not None:
        efficiency = args.efficiency
    elif two is not None:
        efficiency = one["seconds"]["total"] / two["seconds"]["total"] / 2
    else:
        efficiency = 1.0
    print(
        f"measured on {measured['records']:,} records, {measured['works']:,} works,"
        f" {measured['authorships']:,} authorships; projected to {args.works:,.0f} works"
        f" (one record each) and {args.authorships:,.0f} authorships;"
        f" parallel efficiency {efficiency:.2f}; disambiguation ×{args.block_factor:g} per"
        " authorship"
    )
    print(f"{'stage':<14}{'per core':>22}{'core-hours':>14}{'share':>8}")
    rows = []
    for stage, unit in SCALES_WITH.items():
        seconds = one["seconds"].get(stage)
        if not seconds:
            continue
        rate = measured[unit] / seconds
        if stage == "disambiguate":
            rate /= args.block_factor
        rows.append((stage, f"{rate:,.0f} {unit}/s", target[unit] / rate))
    rows.append(("embed", f"{args.embed_rate:,.1f} works/s", args.works / args.embed_rate))
    total = sum(core_seconds for _, _, core_seconds in rows)
    for stage, rate, core_seconds in rows:
        print(f"{stage:<14}{rate:>22}{core_seconds / 3600:>14,.0f}{core_seconds / total:>8.1%}")
    print(f"{'total':<14}{'':>22}{total / 3600:>14,.0f}")
    cores = math.ceil(total / (DAY * efficiency))
    without = total - args.works / args.embed_rate
    print(
        f"cores for a 24-hour full run: {cores:,}"
        f" (without embeddings: {math.ceil(without / (DAY * efficiency)):,})"
    )


if __name__ == "__main__":
    main()
