"""segaudit: fairness, privacy and documentation audits for human-segmentation models.

The house (docs/architecture.md):

    segaudit.core     the kernel every part shares: errors and exit codes, atomic writing, the audit.json contract
    segaudit.models   datasets, the bundled models, training, evaluation, int8 quantization (imports only core)
    segaudit.audit    performance, fairness and privacy audits and the gate (imports models and core)
    segaudit.cards    model cards, dataset cards and the HTML report (reads audit.json through core)
    segaudit.app      the `segaudit` command, the whole-audit pipeline and the demo (imports everything)

The folders `models/`, `audit/` and `cards/` sit at the top of the repository and are mapped into this namespace
by pyproject.toml's package-dir, so no generic top-level name is installed.
"""

__version__ = "0.1.0"
