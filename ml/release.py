"""Turn a training checkpoint into a product model folder: export, calibrate, evaluate.

``python -m ml.release --checkpoint var/runs/damage-v2/best.pt --version damage-v2-2026.12.01
--out ml/models/damage-v2 [--report docs/images/model-card]``

1. ``ml.export``: ``model.onnx`` + fp16 ``model.pt`` + ``model.json``;
2. ``ml.calibration`` on the validation split (``--calibrate-on``, default ``val``: every
   present set's val split; never a test split): temperature, the photo-level head's Platt
   scaling and intact gate, the decision threshold, region and photo calibrators;
3. ``ml.evaluate`` on the test split(s) (``--evaluate-on``, default ``test``), calibrated and
   raw, with the headline numbers recorded under ``metrics`` in ``model.json`` and the JSON and
   plots written to ``--report``.

Every step is the same module a person would run by hand; this only fixes their order.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from ml import calibration, evaluate, export

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--calibrate-on", action="append", default=None)
    parser.add_argument("--evaluate-on", action="append", default=None)
    parser.add_argument("--report", default=None, help="folder for evaluation JSON and plots")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    export.main(["--checkpoint", args.checkpoint, "--out", args.out, "--version", args.version])
    cal_args = ["--model-dir", args.out]
    for split in args.calibrate_on or ["val"]:
        cal_args += ["--split", split]
    calibration.main(cal_args)
    eval_args = ["--model-dir", args.out, "--out", args.report or f"{args.out}/report"]
    for split in args.evaluate_on or ["test"]:
        eval_args += ["--split", split]
    evaluate.main([*eval_args, "--record"])
    evaluate.main([*eval_args, "--raw"])
    logger.info("released %s into %s", args.version, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
