"""The `cnnfast` command line (also `python -m cnnfast`)."""

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="cnnfast", description="cnnfast: fused inference for classic CNNs")
    sub = parser.add_subparsers(dest="command", required=True)
    from cnnfast import bench

    bench.add_arguments(sub.add_parser("bench", help="eager vs cnnfast on the lecture models"))
    sub.add_parser("info", help="what cnnfast._C was built with")
    args = parser.parse_args(argv)
    if args.command == "bench":
        return bench.run(args)
    import json

    import cnnfast

    print(json.dumps(cnnfast.build_info(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
