"""``hf:`` models built from their configs on meta: the published parameter counts to the unit,
ViT-B/16's MACs, GPT-2's forward against torch's flop counter, config files, the CLI.

Truths: GPT-2 small 124,439,808 parameters (the LM head tied to the token embedding,
counted once); BERT-base 109,482,240 (the encoder with its pooler); ViT-B/16 86,567,656
(timm / torchvision ``vit_b_16``); Llama-2-7B 6,738,415,616 (the 7B of its name, as
``sum(p.numel())`` of the checkpoint). ViT-B/16 at 224 x 224: 17,563,828,224 MACs, the
figure written out below from its layers.
"""

from __future__ import annotations

import json

import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

import archcalc  # noqa: E402
from archcalc.cli import app, normalize_argv  # noqa: E402


def run_cli(argv: list[str]):
    return CliRunner().invoke(app, normalize_argv(argv), env={"COLUMNS": "100", "NO_COLOR": "1"})

PUBLISHED = {
    "hf:gpt2": 124_439_808,
    "hf:bert-base-uncased": 109_482_240,
    "hf:google/vit-base-patch16-224": 86_567_656,
    "hf:meta-llama/Llama-2-7b-hf": 6_738_415_616,
}


@pytest.mark.parametrize("model, params", PUBLISHED.items(), ids=list(PUBLISHED))
def test_published_parameter_counts_from_library_defaults(model, params):
    report = archcalc.analyze(model, tokens=None if "vit" in model else 16)
    assert report.totals.params == params
    note = report.warnings[0]
    assert note.kind == "note" and "the library's defaults" in str(note) and "no config.json was read" in str(note)


def test_vit_b16_macs_attention_included():
    """Per layer (T = 197 tokens, h = 768): 12 T h^2 (QKV, projection, MLP 4h) + 2 T^2 h (scores and
    weights x V); plus the 16x16/16 patch convolution and the 1000-class head on the class token."""
    t, h, layers = 197, 768, 12
    per_layer = 12 * t * h * h + 2 * t * t * h
    patches = 14 * 14 * h * (16 * 16 * 3)
    head = h * 1000
    expected = layers * per_layer + patches + head
    assert expected == 17_563_828_224
    report = archcalc.analyze("hf:google/vit-base-patch16-224")
    assert report.totals.macs == expected


def test_gpt2_forward_macs_agree_with_torch_flop_counter():
    """torch.utils.flop_counter counts 2 FLOPs per MAC of every mm / bmm / addmm (the meta forward
    takes SDPA's math path, two bmm per attention layer); archcalc's MACs x 2 must equal it."""
    from torch.utils.flop_counter import FlopCounterMode

    config = transformers.GPT2Config()
    with torch.device("meta"):
        model = transformers.GPT2LMHeadModel(config).eval()
    ids = torch.zeros(2, 64, dtype=torch.long, device="meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(ids)
    report = archcalc.analyze(model, "64:int64", batch=2)
    assert 2 * report.totals.macs == counter.get_total_flops()


def test_config_json_path(tmp_path):
    config = transformers.GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=100, n_positions=32)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**config.to_dict(), "architectures": ["GPT2LMHeadModel"]}))
    report = archcalc.analyze(f"hf:{path}", tokens=8)
    with torch.device("meta"):
        model = transformers.GPT2LMHeadModel(config)
    expected = sum(p.numel() for p in model.parameters())  # tied head: parameters() lists it once
    assert report.totals.params == expected
    assert f"config: {path}" in str(report.warnings[0])
    assert report.input_shape == (8,)


def test_config_override_with_arg():
    report = archcalc.analyze("hf:gpt2", tokens=8, args={"n_layer": "2"})
    # 2 layers of 7,087,872 + token and position embeddings + final norm
    assert report.totals.params == 2 * 7_087_872 + 50257 * 768 + 1024 * 768 + 2 * 768


def test_gelu_new_is_one_row():
    """transformers' NewGELUActivation (gelu_new, eight torch calls) is one row: the tanh GELU, with the
    same counts as the gelu_tanh of the gpt2 spec (and of nn.GELU(approximate="tanh"))."""
    report = archcalc.analyze("hf:gpt2", tokens=8)
    act = report.row("transformer.h.0.mlp.act")
    assert not [r for r in report.rows if r.name.startswith("transformer.h.0.mlp.act.")]
    spec = archcalc.analyze("gpt2", tokens=8)
    (gelu,) = [r for r in spec.rows if r.name.startswith("h.0.") and r.op == act.op]
    assert act.ops == gelu.ops


def test_tokens_past_the_context_are_said():
    report = archcalc.analyze("hf:gpt2", tokens=1100)
    assert "1,100 tokens exceed the context of 1,024" in str(report.warnings[0])


def test_cli_hf_and_tokens():
    result = run_cli(["hf:gpt2", "--tokens", "32", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["totals"]["params"] == 124_439_808
    assert data["input_shape"] == [32]
    masks = {layer["masking"] for layer in data["llm"]["attention_layers"]["layers"]}
    assert masks == {"causal"}


@pytest.mark.parametrize("argv, words", [
    (["hf:no-such/model"], "archcalc llm --list"),
    (["hf:gpt2", "--tokens", "8", "--input", "8:int64"], "not both"),
    (["hf:google/vit-base-patch16-224", "--tokens", "8"], "takes an image"),
    (["hf:gpt2", "--tokens", "8", "--zero", "5"], "--zero"),
    (["hf:gpt2", "--tokens", "8", "--gpu", "h900"], "unknown GPU"),
    (["hf:gpt2", "--tokens", "8", "--arg", "n_layer=abc"], "--arg n_layer is 'abc'"),
    (["hf:missing/config.json"], "no such config file"),
    (["hf:"], "name the model"),
])
def test_bad_input_is_one_line_exit_2(argv, words):
    result = run_cli(argv)
    assert result.exit_code == 2
    assert words in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) <= 2
