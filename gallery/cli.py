"""The `gallery` command line."""

import argparse
import sys


def _demo(args):
    from gallery.demo import run_demo

    return run_demo()


def build_parser():
    parser = argparse.ArgumentParser(prog="gallery", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the main job: the gallery's examples end to end")
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
