"""The memo of meta kernels (archcalc/frontends/meta_memo.py) against the kernels themselves.

Truth: the op's own meta kernel, called on the same arguments. A memoised output must have the
kernel's shape, strides, dtype and storage size; an op that returns (a view of) an argument must
never be memoised; a call that raises must raise again. And a whole analysis with the memo must
equal one without it.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from archcalc.frontends import meta_memo  # noqa: E402

aten = torch.ops.aten


def meta(*shape, dtype=torch.float32):
    return torch.empty(shape, dtype=dtype, device="meta")


def channels_last(*shape):
    return meta(*shape).contiguous(memory_format=torch.channels_last)


#: (op, args, kwargs): point-wise ops with broadcasting, scalars, mixed dtypes and layouts;
#: reductions, matrix products, softmax, tuple outputs, casts and copies
CASES = [
    (aten.add.Tensor, (meta(4, 8), meta(8)), {}),
    (aten.add.Tensor, (meta(4, 1, 8), meta(1, 5, 8)), {"alpha": 2}),
    (aten.add.Tensor, (meta(4, 8), meta(4, 8, dtype=torch.float16)), {}),
    (aten.add.Tensor, (meta(8, 4).t(), meta(4, 8)), {}),
    (aten.add.Tensor, (meta(8, 4).t(), meta(8, 4).t()), {}),
    (aten.mul.Tensor, (channels_last(2, 3, 5, 5), channels_last(2, 3, 5, 5)), {}),
    (aten.mul.Tensor, (channels_last(2, 3, 5, 5), meta(3, 1, 1)), {}),
    (aten.mul.Tensor, (meta(4, 8, dtype=torch.int64), meta(4, 8)), {}),
    (aten.mul.Scalar, (meta(4, 8, dtype=torch.bfloat16), 0.5), {}),
    (aten.div.Tensor, (meta(4, 8, dtype=torch.int64), meta(4, 8, dtype=torch.int64)), {}),
    (aten.div.Tensor_mode, (meta(4, 8), meta(4, 8)), {"rounding_mode": "floor"}),
    (aten.pow.Tensor_Scalar, (meta(4, 8, dtype=torch.int32), 0.5), {}),
    (aten.eq.Tensor, (meta(4, 8), meta(4, 8)), {}),
    (aten.where.self, (meta(4, 8, dtype=torch.bool), meta(4, 8), meta(1, 8)), {}),
    (aten.gelu.default, (meta(4, 8),), {"approximate": "tanh"}),
    (aten.silu.default, (meta(3, 8)[:, ::2],), {}),
    (aten.rsqrt.default, (meta(4, 8, dtype=torch.int64),), {}),
    (aten.mean.dim, (meta(4, 8, 6), [-1], True), {}),
    (aten.sum.dim_IntList, (meta(4, 8, 6), [0, 2]), {"dtype": torch.float64}),
    (aten.addmm.default, (meta(8), meta(4, 6), meta(6, 8)), {}),
    (aten.bmm.default, (meta(3, 4, 6), meta(3, 6, 8)), {}),
    (aten._safe_softmax.default, (meta(2, 4, 5, 5), -1), {}),
    (aten._softmax.default, (meta(2, 4, 5, 5, dtype=torch.float16), -1, True), {}),
    (aten.max.dim, (meta(4, 8), 1), {}),
    (aten.native_layer_norm.default, (meta(2, 5, 8), [8], meta(8), meta(8), 1e-5), {}),
    (aten.convolution.default, (channels_last(2, 3, 9, 9), meta(4, 3, 3, 3), None, [1, 1], [1, 1], [1, 1], False,
                                [0, 0], 1), {}),
    (aten._to_copy.default, (meta(4, 8),), {"dtype": torch.bfloat16}),
    (aten.clone.default, (meta(8, 4).t(),), {}),
    (aten.clone.default, (meta(8, 4).t(),), {"memory_format": torch.contiguous_format}),
    (aten.cat.default, ([meta(2, 3), meta(4, 3)],), {}),
    (aten.embedding.default, (meta(10, 4), meta(2, 7, dtype=torch.int64)), {}),
    (aten.upsample_bicubic2d.default, (meta(1, 3, 4, 4), [8, 8], False), {}),
    (aten.constant_pad_nd.default, (meta(1, 3, 96, 96), [0, 1, 0, 1]), {}),
]


def describe(out):
    outs = out if isinstance(out, tuple) else (out,)
    return [(tuple(t.shape), t.stride(), t.dtype, t.untyped_storage().nbytes()) for t in outs]


@pytest.mark.parametrize("op,args,kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_memoised_output_is_the_kernels(op, args, kwargs):
    truth = describe(op(*args, **kwargs))
    with meta_memo.session():
        first = describe(meta_memo.run(op, args, kwargs))
        again = meta_memo.run(op, args, kwargs)
        memo = meta_memo._MEMO.get()
    assert first == truth
    assert describe(again) == truth
    assert type(again) is type(op(*args, **kwargs))
    assert memo, f"{op} was not memoised"


@pytest.mark.parametrize("op,args", [
    (aten._unsafe_view.default, (meta(4, 6), [24])),
    (aten.view.default, (meta(4, 6), [24])),
    (aten.transpose.int, (meta(4, 6), 0, 1)),
    (aten.add_.Tensor, (meta(4, 6), meta(4, 6))),
    (aten.split_with_sizes.default, (meta(6, 4), [2, 4])),
])
def test_views_and_in_place_ops_are_never_memoised(op, args):
    with meta_memo.session():
        for _ in range(2):
            out = meta_memo.run(op, args, {})
            outs = out if isinstance(out, (tuple, list)) else [out]
            assert all(o.untyped_storage()._cdata == args[0].untyped_storage()._cdata for o in outs)
        assert not meta_memo._MEMO.get()


def test_a_kernel_that_raises_raises_again():
    args = (meta(4, 6), meta(5, 8))
    with meta_memo.session():
        for _ in range(2):
            with pytest.raises(RuntimeError):
                meta_memo.run(aten.mm.default, args, {})
        assert not meta_memo._MEMO.get()


def test_real_tensors_are_computed_not_memoised():
    x = torch.arange(6.0).reshape(2, 3)
    with meta_memo.session():
        meta_memo.run(aten.mul.Tensor, (x, x), {})
        out = meta_memo.run(aten.mul.Tensor, (x, x), {})
    assert torch.equal(out, x * x)


def test_the_memo_lives_for_one_session():
    args = (meta(4, 8), meta(8))
    with meta_memo.session():
        meta_memo.run(aten.add.Tensor, args, {})
        assert meta_memo._MEMO.get()
    assert meta_memo._MEMO.get() is None
    with meta_memo.session():
        assert not meta_memo._MEMO.get()


def _analysis_without_memo(monkeypatch, model, *args, **kwargs):
    import archcalc

    monkeypatch.setattr(meta_memo, "_admitted", lambda func: False)
    try:
        return archcalc.analyze(model, *args, **kwargs)
    finally:
        monkeypatch.undo()


def test_an_analysis_equals_one_without_memo(monkeypatch):
    """A small CNN and a GPT-2 stack (transformers, real weights): the whole report (rows, totals,
    the training totals from measured saved activations, the LLM sizing), with and without the memo."""
    import archcalc
    from torch import nn

    cnn = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.GELU(), nn.Conv2d(8, 8, 3, padding=1),
                        nn.BatchNorm2d(8), nn.GELU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    models = [(cnn, "3x16x16", {})]
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(n_layer=3, n_embd=32, n_head=4, vocab_size=64, n_positions=32)
    models.append((transformers.GPT2LMHeadModel(config), "12:int64", {}))
    for model, shape, kwargs in models:
        fast = archcalc.analyze(model, shape, convention="torch", **kwargs)
        slow = _analysis_without_memo(monkeypatch, model, shape, convention="torch", **kwargs)
        assert fast.to_dict() == slow.to_dict()


def _saved_cases():
    from torch import nn

    cnn = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.1),
                        nn.Conv2d(8, 6, 3, stride=2), nn.Flatten(), nn.Linear(6 * 7 * 7, 5))
    yield "cnn", cnn, ["16x16x3"], {}
    transformers = pytest.importorskip("transformers")
    gpt2 = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=4, vocab_size=64, n_positions=32)
    yield "gpt2", transformers.GPT2LMHeadModel(gpt2), ["12:int64"], {}
    bert = transformers.BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=40,
                                   vocab_size=64)
    yield "bert", transformers.BertModel(bert), ["10:int64"], {}
    t5 = transformers.T5Config(num_layers=2, d_model=32, d_ff=40, num_heads=4, d_kv=8, vocab_size=64)
    yield "t5", transformers.T5Model(t5), [], {"input_ids": ((9,), "int64"), "decoder_input_ids": ((5,), "int64")}
    vit = transformers.ViTConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=40,
                                 image_size=32, patch_size=8)
    yield "vit", transformers.ViTModel(vit), [], {"pixel_values": ((3, 32, 32), "float32")}


@pytest.mark.parametrize("batch", [2, 3])
def test_saved_activations_measured_at_the_prime_batch_scale_exactly(batch):
    """Run at the capture's prime batch (97) and scaled to ``batch``, the measurement of saved
    activations equals the one run at ``batch`` itself, field by field, math and fused attention.
    (Batch 1 is measured as it is: size-1 axes let a reshape view what batch 97 copies, and BERT's
    attention then keeps the same bytes under other storages.)"""
    from archcalc.llm.saved_tensors import FUSED, MATH, measure_saved_activations

    for name, model, inputs, kwargs in _saved_cases():
        for attention in (MATH, FUSED):
            try:
                direct = measure_saved_activations(model, inputs, kwargs=kwargs, batch=batch, attention=attention)
            except RuntimeError as error:  # e.g. the fused kernel refuses a mask that needs a gradient
                with pytest.raises(type(error)):
                    measure_saved_activations(model, inputs, kwargs=kwargs, batch=batch, attention=attention, at=97)
                continue
            scaled = measure_saved_activations(model, inputs, kwargs=kwargs, batch=batch, attention=attention, at=97)
            assert scaled == direct, (name, attention)
