"""The `cnnfast` command line (also `python -m cnnfast`)."""

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="cnnfast", description="cnnfast: fused inference for classic CNNs")
    sub = parser.add_subparsers(dest="command", required=True)
    from cnnfast import bench

    bench.add_arguments(sub.add_parser("bench", help="eager vs cnnfast on the lecture models"))
    prof = sub.add_parser("profile", help="per-layer time of cnnfast, ONNX Runtime and OpenVINO, each by its own "
                                          "counters in its own process")
    prof.add_argument("--models", nargs="+", default=["resnet50"])
    prof.add_argument("--batch", nargs="+", type=int, default=[1])
    prof.add_argument("--threads", type=int, default=2)
    prof.add_argument("--runs", type=int, default=20, help="inferences counted per process")
    prof.add_argument("--repeat", type=int, default=2, help="rounds over the three runtimes (medians)")
    prof.add_argument("--out", default=None, help="write OUT.md and OUT.json")
    prof.add_argument("--as-avx2", action="store_true",
                      help="as on a CPU without AVX-512 (see cnnfast bench --as-avx2); ONNX Runtime stays uncapped")
    sub.add_parser("info", help="what cnnfast._C was built with")
    args = parser.parse_args(argv)
    if args.command == "bench":
        return bench.run(args)
    if args.command == "profile":
        from cnnfast import layer_profile

        return layer_profile.run(args.models, args.batch, args.threads, args.runs, args.repeat, args.out,
                                 args.as_avx2)
    import json

    import cnnfast

    print(json.dumps(cnnfast.build_info(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
