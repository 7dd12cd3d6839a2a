"""Command line: ``fastconv --info``, ``fastconv train lenet5`` (also ``python -m fastconv``)."""

from __future__ import annotations

import argparse
import sys

MODELS = ("lenet5",)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastconv", description=__doc__)
    parser.add_argument("--info", action="store_true", help="print build and machine facts")
    sub = parser.add_subparsers(dest="command")
    tr = sub.add_parser("train", help="train a model on the handwritten digits (scikit-learn)")
    tr.add_argument("model", choices=MODELS)
    tr.add_argument("--epochs", type=int, default=12)
    tr.add_argument("--batch-size", type=int, default=32)
    tr.add_argument("--lr", type=float, default=3e-3, help="Adam's initial learning rate")
    tr.add_argument("--activation", default="relu", choices=("relu", "tanh"),
                    help="hidden activation (tanh: the 1998 paper's)")
    tr.add_argument("--no-augment", action="store_true",
                    help="no random shifts/rotations (trains faster, overfits more)")
    tr.add_argument("--val-split", type=float, default=0.1,
                    help="fraction of the training images held out for the curves (0: none)")
    tr.add_argument("--out", default="fastconv-out", help="folder for weights, plot, report")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.add_argument("--limit", type=int, default=None,
                    help="train on the first N training images only (a quick smoke run)")
    args = parser.parse_args(argv)
    import fastconv

    if args.info:
        fastconv.info()
        return 0
    if args.command == "train":
        if (args.epochs < 1 or args.batch_size < 1 or not args.lr > 0
                or (args.limit is not None and args.limit < 10)
                or not 0 <= args.val_split < 1):
            parser.error("--epochs and --batch-size must be >= 1, --lr > 0, --limit >= 10, "
                         "0 <= --val-split < 1")
        from fastconv.train.cli import train_lenet5

        try:
            train_lenet5(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         out=args.out, seed=args.seed, verbose=0 if args.quiet else 1,
                         activation=args.activation, augment=not args.no_augment,
                         validation_split=args.val_split, limit=args.limit)
        except ImportError as e:
            print(f"fastconv train: {e}", file=sys.stderr)
            return 1
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
