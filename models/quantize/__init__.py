"""int8 quantization (PT2E: QAT or PTQ) of a trained run and its ExecuTorch program; see pipeline.py.

    from segaudit.models.quantize import QuantizeConfig, quantize_run
    report = quantize_run("runs/alisnet", "data/people4k", QuantizeConfig(method="qat", qat_epochs=1))

Files: ``pt2e`` (prepare / fine-tune / calibrate / convert), ``patterns`` (cheaper torchao pattern matching),
``lowering`` (export to .pte, refusals), ``report`` (the measured figures), ``pipeline`` (the run folder in,
three files out).
"""

from segaudit.models.quantize.pipeline import PTE_FILE, SIDECAR_FILE, QuantizeConfig, quantize_run
from segaudit.models.quantize.report import REPORT_FILE, QuantizationReport

__all__ = ["PTE_FILE", "REPORT_FILE", "SIDECAR_FILE", "QuantizationReport", "QuantizeConfig", "quantize_run"]
