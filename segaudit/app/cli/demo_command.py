"""`segaudit demo`: the whole chain on the embedded synthetic people, from data to the gate, cached by stage."""

from __future__ import annotations

import argparse
from pathlib import Path

from segaudit.app.cli.privacy_command import add_executor_options
from segaudit.app.cli.table import format_table


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demo", help="run the whole chain on synthetic people: data, train, int8, audit, cards, gate",
        description="Synthesize people (the training split skewed toward light skin tones, as real data is), "
        "train ALiSNet, quantization-aware training to int8 and the ExecuTorch program, then the audit of that "
        "program as a phone runs it: fairness of every attribute, membership inference with shadow models, "
        "the model card, the dataset card and report.html; finally the gate with gate.toml. Each stage is "
        "cached in OUT by a hash of its inputs and settings: a rerun reuses finished stages and redoes an "
        "interrupted one. --quick (400 images at 64 px, 2 shadow models of 2 epochs, no label-only attack) takes "
        "a few minutes on a 2-core machine; the default (1,200 images, 4 shadow models trained with the target's "
        "own recipe, every attack) takes longer and attacks harder.",
        epilog="example: segaudit demo --quick, then open reports/demo/audit/report.html")
    parser.add_argument("--out", type=Path, default=Path("reports/demo"), help="output folder (reports/demo)")
    parser.add_argument("--quick", action="store_true", help="the small, fast configuration")
    parser.add_argument("--seed", type=int, default=None, help="seed of every stage (0)")
    parser.add_argument("--workers", type=int, default=None, help="processes for synthesis and shadow training "
                        "(default: the machine's cores)")
    add_executor_options(parser)
    parser.set_defaults(handler=run_demo_command)


def run_demo_command(args: argparse.Namespace) -> int:
    from segaudit.app.demo import FULL, QUICK, run_demo, with_overrides

    config = with_overrides(QUICK if args.quick else FULL, seed=args.seed, workers=args.workers,
                            executor=args.executor, ray_address=args.ray_address)

    def on_stage(name: str, index: int, total: int) -> None:
        print(f"[{index}/{total}] {name}", flush=True)

    result = run_demo(args.out, config, progress=True, on_stage=on_stage)
    rows = [[s.name, "reused" if s.reused else f"{s.seconds:.0f} s", str(s.folder)] for s in result.stages]
    print(format_table(["stage", "time", "folder"], rows))
    print(result.gate_text)
    audit_dir = result.out / "audit"
    print(f"report: {audit_dir / 'report.html'}   model card: {audit_dir / 'model_card.md'}   "
          f"audit: {audit_dir / 'audit.json'}")
    return 0
