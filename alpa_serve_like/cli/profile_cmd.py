"""``alpa-serve-like profile``: fill a profiling database from the analytic cost model or by timing
torch models (``--measure``), or refit the cost model's calibration (``--fit-calibration``).

Examples::

    alpa-serve-like profile --zoo --out profiling_result.pkl          # the shipped database
    alpa-serve-like profile --device a100-80gb --models bert-1.3b,moe-2.4b --out db.pkl --merge
    alpa-serve-like profile --measure --models bert-tiny --device cpu --out cpu.pkl
    alpa-serve-like profile --fit-calibration                         # refit V100 constants
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

SHIPPED_GPU_DEVICES = ("v100-16gb", "a100-80gb", "h100-80gb")

DESCRIPTION = """\
Fill a profiling database (per model, device, parallel config (dp=1, op, pp) and batch size:
per-stage latency, weight and activation memory).

By default numbers come from the analytic cost model (roofline per layer, ring all-reduce and
all-to-all for intra-op parallelism, pipeline hand-offs, launch overheads), calibrated on
AlpaServe's measured V100 BERT-1.3B table; the whole --zoo takes a few seconds.
With --measure, the torch model is built from its config with random weights and each stage is
timed on --torch-device (warm-up, then the median of repeats); peak memory is recorded. The
measured profiler times op=1 only, so --measure keeps just the op=1 configs.

--zoo writes what ships in profiling_result.pkl: the AlpaServe zoo (bert-1.3b ... moe-5.3b) on
v100-16gb, a100-80gb and h100-80gb, plus the tiny CPU models (bert-tiny, bert-mini, gpt-tiny) on
device 'cpu'. --fit-calibration refits the V100 constants by least squares and prints them with
the error per batch size; paste them into alpa_serve_like/cost_model/params.py.
"""


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    what = parser.add_argument_group("what to profile")
    what.add_argument("--models", default="bert-1.3b",
                      help="comma-separated zoo names (see alpa_serve_like/core/zoo.py); default bert-1.3b")
    what.add_argument("--device", default="v100-16gb",
                      help="comma-separated device names to profile for (v100-16gb, a100-40gb, "
                           "a100-80gb, h100-80gb, cpu); with --measure, the name the timings are "
                           "filed under (default: 'cpu' for --torch-device cpu)")
    what.add_argument("--zoo", action="store_true",
                      help="profile the shipped set: AlpaServe zoo on v100-16gb, a100-80gb, h100-80gb "
                           "and the tiny models on cpu (overrides --models and --device)")
    what.add_argument("--ops", type=_int_list, default=(1, 2, 4, 8), help="intra-op degrees (default 1,2,4,8)")
    what.add_argument("--pps", type=_int_list, default=(1, 2, 4, 8, 16, 32),
                      help="pipeline degrees, those above the layer count are skipped (default 1,2,4,8,16,32)")
    what.add_argument("--batch-sizes", type=_int_list, default=(1, 2, 4, 8, 16),
                      help="batch sizes (default 1,2,4,8,16)")
    out = parser.add_argument_group("output")
    out.add_argument("--out", default="profiling_result.pkl", help="database file (default profiling_result.pkl)")
    out.add_argument("--merge", action="store_true",
                     help="add to the database at --out (replacing same model+device) instead of overwriting it")
    measure = parser.add_argument_group("measured profiling (--measure)")
    measure.add_argument("--measure", action="store_true",
                         help="time real torch models instead of using the cost model (needs the [runtime] extra)")
    measure.add_argument("--torch-device", default="cpu", help="torch device to time on: cpu or cuda (default cpu)")
    measure.add_argument("--warmup", type=int, default=2, help="untimed runs per stage and batch size (default 2)")
    measure.add_argument("--repeats", type=int, default=5, help="timed runs; the median is kept (default 5)")
    calib = parser.add_argument_group("calibration")
    calib.add_argument("--fit-calibration", action="store_true",
                       help="fit the V100 cost-model constants to the reference table, print them and "
                            "the error per batch size; writes no database")
    calib.add_argument("--calibration-report", action="store_true",
                       help="print the current constants' error against the reference table; writes nothing")
    calib.add_argument("--reference", default=None,
                       help="reference JSON for the two options above (default: the shipped AlpaServe "
                            "V100 BERT-1.3B table)")


def run(args: argparse.Namespace) -> int:
    if args.fit_calibration or args.calibration_report:
        return _calibrate(args)
    from alpa_serve_like.profiling.database import DatabaseError, ProfilingDatabase
    from alpa_serve_like.core.zoo import ALPASERVE_MODELS, TINY_MODELS, get_spec, parse_model_list

    from alpa_serve_like.cli.common_args import check_out_path

    try:
        check_out_path(args.out)
        if args.zoo:
            jobs = [(get_spec(n), d) for d in SHIPPED_GPU_DEVICES for n in ALPASERVE_MODELS]
            jobs += [(get_spec(n), "cpu") for n in TINY_MODELS]
        else:
            specs = parse_model_list(args.models)
            devices = [d.strip() for d in args.device.split(",") if d.strip()]
            if args.measure and args.device == "v100-16gb" and args.torch_device == "cpu":
                devices = ["cpu"]  # the default GPU name would mislabel CPU timings
            jobs = [(spec, d) for d in devices for spec in specs]
    except (KeyError, ValueError) as exc:
        print(f"alpa-serve-like profile: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2

    out = Path(args.out)
    db = ProfilingDatabase()
    if args.merge and out.exists():
        try:
            db = ProfilingDatabase.load(out)
        except DatabaseError as exc:
            print(f"alpa-serve-like profile: cannot merge into {out}: {exc}", file=sys.stderr)
            return 2
    try:
        for i, (spec, device) in enumerate(jobs, 1):
            profile = _measure(spec, device, args) if args.measure else _analytic(spec, device, args)
            db.add(profile)
            print(f"[{i}/{len(jobs)}] {device:>10} {spec.name:<12} {len(profile.configs):>3} configs "
                  f"({profile.source})", file=sys.stderr, flush=True)
    except (KeyError, ValueError) as exc:
        print(f"alpa-serve-like profile: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    db.save(out)
    size_kib = out.stat().st_size / 1024
    print(f"wrote {out} ({size_kib:.0f} KiB): {len(db.devices)} devices, "
          f"{sum(len(db.models(d)) for d in db.devices)} model profiles")
    return 0


def _analytic(spec, device: str, args):
    from alpa_serve_like.cost_model.profile_builder import build_profile, supported_configs
    from alpa_serve_like.core.hardware import get_device

    configs = supported_configs(spec, args.ops, args.pps)
    if not configs:
        raise ValueError(f"model {spec.name!r}: none of op {args.ops} x pp {args.pps} fits its shape")
    return build_profile(spec, get_device(device), configs=configs, batch_sizes=args.batch_sizes)


def _measure(spec, device: str, args):
    from alpa_serve_like.cost_model.profile_builder import supported_configs

    try:
        from alpa_serve_like.models.measure import measure_profile
    except ImportError as exc:
        raise ValueError(
            f"--measure needs torch and alpa_serve_like.models.measure ({exc}); install the "
            f"runtime extra: pip install -e .[runtime]"
        ) from exc
    # Timing op > 1 needs one process per shard, which the measured profiler does not launch.
    wanted = supported_configs(spec, args.ops, args.pps)
    configs = [c for c in wanted if c.op == 1]
    if not configs:
        raise ValueError(f"model {spec.name!r}: --measure times op=1 only; include 1 in --ops")
    skipped = len(wanted) - len(configs)
    if skipped:
        print(f"  {spec.name}: skipping {skipped} config(s) with op > 1 (--measure times op=1 only; "
              f"use the analytic profiler for them)", file=sys.stderr)
    return measure_profile(spec, configs, args.batch_sizes, device=args.torch_device,
                           warmup=args.warmup, repeats=args.repeats, device_name=device,
                           progress=lambda line: print(f"  {line}", file=sys.stderr, flush=True))


def _calibrate(args: argparse.Namespace) -> int:
    from alpa_serve_like.cost_model import calibration
    from alpa_serve_like.cost_model.params import V100_PARAMS

    try:
        table = calibration.ReferenceTable.load(args.reference)
    except (OSError, ValueError) as exc:
        from alpa_serve_like.cli.errors import report

        return report("alpa-serve-like profile", exc)
    if args.fit_calibration:
        params = calibration.fit_params(table)
        print("fitted constants (paste into V100_PARAMS in alpa_serve_like/cost_model/params.py):")
        print(calibration.format_params(params))
    else:
        params = V100_PARAMS
    print(calibration.format_report(table, params))
    return 0
