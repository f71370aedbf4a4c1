"""The training options: one table, read by `mnist-tui` (one value each) and `mnist-tui sweep`
(comma-separated alternatives each), turned into a checked TrainConfig in one place."""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from mnist_tui.engine.data import TRAIN_SPLIT
from mnist_tui.run.config import OPTIMIZERS, PRESETS, ConfigError, TrainConfig, parse_l2, validate

TITLE = "training (defaults: Adam, lr 0.003 cosine-decayed, 5 epochs, batch 64, shift 2)"


def parse_l2_arg(text: str) -> dict[str, float]:
    try:
        return parse_l2(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--l2: ")) from None


@dataclass(frozen=True)
class Option:
    flag: str
    help: str | None = None
    type: Callable[[str], object] | None = None  # None: the text as given
    metavar: str | None = None
    dest: str | None = None  # None: argparse's, from the flag (--batch-size: batch_size), a TrainConfig field
    choices: tuple[str, ...] | None = None
    switch: bool = False  # takes no value: given means True, absent means the preset's or the default
    alternatives: str = ","  # what separates a sweep's values (--l2 takes commas itself)

    def add_to(self, group) -> None:
        """As `mnist-tui` takes it: one value."""
        if self.switch:
            group.add_argument(self.flag, action="store_true", default=None, help=self.help)
            return
        extra = {k: v for k, v in (("type", self.type), ("metavar", self.metavar), ("dest", self.dest),
                                   ("choices", self.choices)) if v is not None}
        group.add_argument(self.flag, help=self.help, **extra)

    def add_alternatives_to(self, parser) -> None:
        """As `mnist-tui sweep` takes it: alternatives, checked later run by run (a switch stays one)."""
        if self.switch:
            parser.add_argument(self.flag, dest=self.dest, action="store_true", default=None, help=self.help)
        else:
            parser.add_argument(self.flag, dest=self.dest, metavar="V[,V...]", help=self.help)

    @property
    def name(self) -> str:
        """Its attribute in the parsed arguments, and its TrainConfig field."""
        return self.dest or self.flag.removeprefix("--").replace("-", "_")


TRAINING = (
    Option("--preset", "course: Adam, lr 0.01 constant, 5 epochs, batch 64, no augmentation",
           choices=tuple(sorted(PRESETS))),
    Option("--epochs", type=int),
    Option("--batch-size", type=int),
    Option("--optimizer", f"one of {', '.join(OPTIMIZERS)}"),
    Option("--lr", "learning rate", type=float),
    Option("--momentum", "for --optimizer momentum (default 0.9)", type=float),
    Option("--schedule", "cosine (default) or constant learning rate"),
    Option("--weight-decay", "L2 weight decay for the whole model", type=float),
    Option("--l2", "per-layer L2, e.g. conv1=1e-4,fc=1e-3", type=parse_l2_arg, alternatives=";"),
    Option("--seed", type=int),
    Option("--shift", "augment: move each batch by up to PX pixels", type=int, metavar="PX"),
    Option("--device", "auto (default), cpu, gpu or gpu:N"),
    Option("--eval-every", "also validate every N batches (0: once per epoch)", type=int),
    Option("--stats-every", "layer statistics every N batches (default 100; 0: only at the first batch, "
                            "evaluations and on request)", type=int, metavar="N"),
    Option("--train-limit", "train on the first N images only", type=int, metavar="N"),
    Option("--val-limit", "validate on the first N images only", type=int, metavar="N"),
    Option("--test-limit", "test on the first N images only", type=int, metavar="N"),
    Option("--train-eval-limit", "training images evaluated like validation for the gap (default 10,000)",
           type=int, metavar="N"),
    Option("--checkpoint-every", "also checkpoint after every MIN minutes of training (default 5; 0: only at "
                                 "epoch ends)", type=float, metavar="MIN", dest="checkpoint_minutes"),
    Option("--threads", "CPU math threads (default: Paddle's, 1)", type=int),
    Option("--nproc", "data-parallel processes, paddle.DataParallel (default: one per CPU core, up to 4, "
                      "or one per GPU; also with --resume)", type=int, metavar="N"),
    Option("--gpus", "GPUs for the processes, e.g. 0,1 (default: every visible one)", metavar="LIST"),
    Option("--to-static", "compile the train step (paddle.jit.to_static)", switch=True),
    Option("--amp", "GPU only: float16 automatic mixed precision with loss scaling", switch=True),
)


def add_training_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(TITLE)
    for option in TRAINING:
        option.add_to(group)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    base = dict(PRESETS[args.preset]) if args.preset else {}
    for name in TrainConfig.__dataclass_fields__:
        value = getattr(args, name, None)
        if value is not None:
            base[name] = value
    return validate(TrainConfig(**base))


def check_before_the_run_folder(cfg: TrainConfig, data) -> None:
    """Checks that can fail run before a run folder is made, so a refusal leaves nothing behind."""
    train_size = len(data.train.head(cfg.train_limit)) if data is not None else min(cfg.train_limit or TRAIN_SPLIT,
                                                                                  TRAIN_SPLIT)
    validate(cfg, train_size=train_size)
    if cfg.device not in ("auto", "cpu") or cfg.amp:  # only these can be refused
        with warnings.catch_warnings():  # Paddle warns at import (no ccache); fd 2 is still the terminal
            warnings.simplefilter("ignore")
            from mnist_tui.engine.device import choose_device

        choose_device(cfg.device, cfg.amp)
