"""The cheaper PT2E pattern matching (models/quantize/patterns.py) finds and folds what torchao's own does."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from segaudit.models.quantize import patterns, pt2e

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning")]


def conv_bn_relu() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 2, 1))


def test_conv_kinds_are_read_from_the_graph() -> None:
    graph = torch.export.export(conv_bn_relu().train(), (torch.randn(2, 3, 8, 8),)).module().graph
    assert patterns.present_conv_kinds(graph) == {torch.ops.aten.conv2d}
    transposed = nn.Sequential(nn.ConvTranspose1d(3, 4, 3), nn.Conv1d(4, 4, 1))
    graph = torch.export.export(transposed, (torch.randn(2, 3, 8),)).module().graph
    assert patterns.present_conv_kinds(graph) == {torch.ops.aten.conv_transpose1d, torch.ops.aten.conv1d}


def _pattern(scale: float) -> nn.Module:
    from torchao.quantization.pt2e.export_utils import WrapperModule

    def pattern(x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x * scale)
    return WrapperModule(pattern)  # how torchao hands its patterns to the builder


def test_pattern_graphs_are_cached_by_code_and_closure_and_handed_out_as_copies() -> None:
    with patterns.faster_pattern_matching() as patched:
        assert patched
        _check_the_cache()


def _check_the_cache() -> None:
    from torchao.quantization.pt2e import utils

    build = utils._get_aten_graph_module_for_pattern
    before = patterns.stats()
    first = build(_pattern(2.0), (torch.randn(1, 3),))
    second = build(_pattern(2.0), (torch.randn(1, 3),))  # a new closure with the same code and values
    other = build(_pattern(3.0), (torch.randn(1, 3),))  # another value: another graph
    wider = build(_pattern(2.0), (torch.randn(2, 3),))  # another input shape: another graph
    after = patterns.stats()
    assert after["misses"] - before["misses"] == 3 and after["hits"] - before["hits"] == 1
    assert second is not first and second.code == first.code
    assert "2.0" in first.code and "3.0" in other.code and wider is not first
    relu = next(n for n in first.graph.nodes if n.op == "call_function" and "relu" in str(n.target))
    relu.replace_all_uses_with(relu.args[0])
    first.graph.erase_node(relu)
    first.recompile()
    assert "relu" not in first.code
    assert "relu" in build(_pattern(2.0), (torch.randn(1, 3),)).code  # editing a copy leaves the cache alone

    from torchao.quantization.pt2e.export_utils import WrapperModule

    weights = torch.randn(3)
    build(WrapperModule(lambda x: x * weights), (torch.randn(1, 3),))  # a tensor constant: built, not cached
    assert patterns.stats()["uncached"] == after["uncached"] + 1


def test_qat_convert_still_folds_batchnorm_and_matches_the_fake_quantized_model() -> None:
    model = conv_bn_relu()
    example = torch.randn(4, 3, 16, 16)
    prepared = pt2e.prepare(model, pt2e.WHOLE_MODEL, example, qat=True)
    prepared.train()
    for _ in range(3):
        prepared(torch.randn(8, 3, 16, 16))
    prepared.eval()
    skipped = patterns.stats()["skipped"]
    fake_quantized = prepared(example)
    converted = pt2e.convert(prepared, pt2e.WHOLE_MODEL)
    assert patterns.stats()["skipped"] > skipped  # conv1d and the transposed kinds were not searched for
    ops = {str(node.target) for node in converted.graph.nodes if node.op == "call_function"}
    assert not any("batch_norm" in op for op in ops), ops  # folded into the convolution
    assert any("quantize_per_tensor" in op for op in ops)
    int8 = converted(example)
    assert int8.shape == fake_quantized.shape
    # One int8 step of the output's range is the expected disagreement between fake and real quantization.
    step = float(fake_quantized.abs().max()) / 127
    assert float((int8 - fake_quantized).abs().max()) <= 3 * step


def _qat_convert(seed: int = 0) -> tuple[torch.fx.GraphModule, torch.Tensor]:
    model = conv_bn_relu()
    generator = torch.Generator().manual_seed(seed)
    example = torch.randn(4, 3, 16, 16, generator=generator)
    prepared = pt2e.prepare(model, pt2e.WHOLE_MODEL, example, qat=True)
    prepared.train()
    for _ in range(2):
        prepared(torch.randn(8, 3, 16, 16, generator=generator))
    converted = pt2e.convert(prepared, pt2e.WHOLE_MODEL)
    return converted, converted(example)


def test_the_patch_is_undone_after_the_block_and_converts_exactly_what_torchao_does(monkeypatch) -> None:
    import torchao.quantization.pt2e.qat_utils as qat_utils
    import torchao.quantization.pt2e.utils as utils

    before = (utils._get_aten_graph_module_for_pattern, qat_utils._fold_conv_bn_qat_helper)
    with patterns.faster_pattern_matching():
        assert utils._get_aten_graph_module_for_pattern is not before[0]
        with patterns.faster_pattern_matching():  # nested: patched once, undone by the outer block
            pass
        assert qat_utils._fold_conv_bn_qat_helper is not before[1]
    assert (utils._get_aten_graph_module_for_pattern, qat_utils._fold_conv_bn_qat_helper) == before
    patched_graph, patched_out = _qat_convert()
    monkeypatch.setattr(patterns, "supported", lambda: False)  # as with another torchao release: unpatched
    with patterns.faster_pattern_matching() as patched:
        assert not patched and utils._get_aten_graph_module_for_pattern is before[0]
    plain_graph, plain_out = _qat_convert()
    assert patched_graph.code == plain_graph.code
    assert torch.equal(patched_out, plain_out)
