"""``alpa-serve-like compare-policies``: run several policies, train on one workload, score on another.

Training traffic: ``--workload`` or synthetic with ``--seed``. Evaluation traffic: ``--test-workload``,
else the synthetic generator with ``--test-seed`` (default seed + 1), else (for a saved workload)
the later part of ``--workload`` after ``--train-fraction``. The table states which is which.
``--in-sample`` scores on the training traffic itself, as AlpaServe's published attainments were.
"""
from __future__ import annotations

import argparse
import sys

HELP = "run several placement policies and compare SLO attainment"
DEFAULT_TRAIN_FRACTION = 0.5
_HELD_OUT_FLAGS = (("test_workload", "--test-workload"), ("test_seed", "--test-seed"),
                   ("train_fraction", "--train-fraction"))
"""Flags that choose the held-out evaluation traffic, which ``--in-sample`` does not use."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from alpa_serve_like.cli.place_cmd import add_problem_arguments

    parser.add_argument("--policies", required=True, help="comma-separated policy names, e.g. sr-greedy,mp-search,mp-anneal (see 'place --help')")
    add_problem_arguments(parser)
    parser.add_argument("--test-workload", help="evaluation workload file (.npz)")
    parser.add_argument("--test-seed", type=int, default=None, help="synthetic evaluation seed (default seed+1)")
    parser.add_argument("--train-fraction", type=float, default=None,
                        help="with --workload and no --test-workload: train on this leading fraction, test on the "
                             "rest (default 0.5)")
    parser.add_argument("--in-sample", action="store_true",
                        help="score on the training traffic itself (AlpaServe's published numbers are in-sample; "
                             "for reproducing them; default: held-out traffic)")
    parser.add_argument("--out", help="also write the table to this TSV file")
    parser.add_argument("--tsv", dest="out", help=argparse.SUPPRESS)


def _workloads(args, models, profiles):
    from alpa_serve_like.cli.place_cmd import check_synthetic_flags, load_training, mapped, synthetic, synthetic_label

    check_synthetic_flags(args)
    if args.workload and not args.test_workload:
        from alpa_serve_like.core.workload import split_train_test
        from alpa_serve_like.trace.workload_io import load_workload

        f = DEFAULT_TRAIN_FRACTION if args.train_fraction is None else args.train_fraction
        train, test = split_train_test(mapped(args, load_workload(args.workload), models), f)
        return train, test, (f"{args.workload} first {f:.0%}", f"{args.workload} last {1 - f:.0%}")
    train, train_label = load_training(args, models, profiles)
    if args.test_workload:
        from alpa_serve_like.trace.workload_io import load_workload

        return train, mapped(args, load_workload(args.test_workload), models), (train_label, args.test_workload)
    seed = args.seed + 1 if args.test_seed is None else args.test_seed
    if seed == args.seed:
        raise ValueError("--test-seed equals --seed: evaluate on different traffic")
    return train, synthetic(args, models, profiles, seed), (train_label, synthetic_label(args, seed))


def run(args) -> int:
    from alpa_serve_like.placement import PlacementInfeasibleError
    from alpa_serve_like.placement.evaluate import compare_policies, format_table, write_tsv
    from alpa_serve_like.placement.registry import PolicyNameError, resolve_policy

    from alpa_serve_like.cli.place_cmd import load_problem, options_from
    from alpa_serve_like.placement.problem_inputs import check_workload_models

    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    if args.in_sample:
        given = [flag for field, flag in _HELD_OUT_FLAGS if getattr(args, field, None) is not None]
        if given:
            print(f"alpa-serve-like compare-policies: {', '.join(given)} choose held-out evaluation traffic, "
                  f"which --in-sample does not use (it scores on the training traffic): drop one or the other",
                  file=sys.stderr)
            return 2
    from alpa_serve_like.cli.common_args import check_out_path

    try:
        check_out_path(args.out)
        for name in policies:  # a typo fails before any traffic is generated
            resolve_policy(name)
            if policies.count(name) > 1:  # the table would hold two rows of one name
                raise ValueError(f"--policies lists {name} twice; give each policy once")
        cluster, models, profiles = load_problem(args)
        if args.in_sample:
            from alpa_serve_like.cli.place_cmd import load_training

            train, label = load_training(args, models, profiles)
            test, labels = None, (label, label)
        else:
            train, test, labels = _workloads(args, models, profiles)
            check_workload_models(test, models)
        check_workload_models(train, models)
        rows = compare_policies(policies, cluster, models, profiles, train, test, options_from(args),
                                seed=args.seed, labels=labels, in_sample=args.in_sample,
                                progress=lambda name: print(f"running {name} ...", file=sys.stderr, flush=True))
    except (PlacementInfeasibleError, PolicyNameError, ValueError, KeyError, OSError) as exc:
        from alpa_serve_like.cli.errors import report

        return report("alpa-serve-like compare-policies", exc)
    print(format_table(rows))
    if args.out:
        write_tsv(rows, args.out)
        print(f"wrote {args.out}")
    return 0 if all(not r.error for r in rows) else 1
