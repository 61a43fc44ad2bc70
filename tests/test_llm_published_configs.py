"""The shipped published configs (archcalc/llm/configs/*.json), ``archcalc llm --list``, the
default sequence length and the errors that name their cause.

Parameter counts are the published ones (the checkpoints' safetensors totals on their model
pages, the figures the model cards round: Llama-3-8B "8B", Mistral-7B "7.24B", ...); each
model is built on meta without a forward pass (well under a second each)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from typer.testing import CliRunner  # noqa: E402

from archcalc.cli import app, normalize_argv  # noqa: E402
from archcalc.llm.published_configs import find_published, published_configs  # noqa: E402


def run_cli(argv):
    return CliRunner().invoke(app, normalize_argv(argv), env={"COLUMNS": "200", "NO_COLOR": "1"})


def test_every_shipped_config_names_its_source():
    configs = published_configs()
    assert len(configs) >= 20
    for config in configs:
        assert config.source.startswith("https://huggingface.co/" + config.name + "/"), config.file
        fields = config.fields()
        assert "model_type" in fields and not any(key.startswith("_") for key in fields)


@pytest.mark.parametrize("name, params", [
    ("meta-llama/Meta-Llama-3-8B", 8_030_261_248),
    ("meta-llama/Meta-Llama-3-70B", 70_553_706_496),
    ("meta-llama/Llama-3.2-1B", 1_235_814_400),
    ("mistralai/Mistral-7B-v0.1", 7_241_732_096),
    ("Qwen/Qwen2-7B", 7_615_616_512),
    ("google/gemma-7b", 8_537_680_896),
    ("microsoft/phi-2", 2_779_683_840),
    ("microsoft/Phi-3-mini-4k-instruct", 3_821_079_552),
    ("tiiuae/falcon-7b", 6_921_720_704),
    ("google-t5/t5-base", 222_903_552),
    ("facebook/opt-1.3b", 1_315_758_080),
    ("Qwen/Qwen1.5-MoE-A2.7B", 14_315_784_192),  # model card: 14.3B total
])
def test_published_parameter_counts(name, params):
    from archcalc.llm.hf import build_hf_model

    built = build_hf_model(f"hf:{name}")
    assert sum(p.numel() for p in built.module.parameters()) == params
    assert "shipped with archcalc" in built.note and find_published(name).source in built.note


def test_short_names_find_the_file():
    assert find_published("mistral-7b").name == "mistralai/Mistral-7B-v0.1"
    assert find_published("MIXTRAL-8X7B-V0.1").name == "mistralai/Mixtral-8x7B-v0.1"
    assert find_published("no-such-model") is None


def test_list_names_them():
    result = run_cli(["llm", "--list"])
    assert result.exit_code == 0, result.output
    for config in published_configs():
        assert config.name in result.stdout
    assert "gpt2" in result.stdout and "meta-llama/Llama-2-7b-hf" in result.stdout


def test_default_tokens_is_2048_capped_at_the_context():
    import archcalc

    long = archcalc.analyze("hf:meta-llama/Llama-3.1-405B", args={"num_hidden_layers": 1, "hidden_size": 256,
                                                                 "intermediate_size": 512, "num_attention_heads": 4,
                                                                 "num_key_value_heads": 2, "vocab_size": 1000})
    assert long.input_shape == (2048,)
    assert any("--tokens not given: 2,048 tokens" in str(w) and "131,072" in str(w) for w in long.warnings)
    short = archcalc.analyze("hf:gpt2", args={"n_layer": 1})  # GPT-2's context: 1,024 positions
    assert short.input_shape == (1024,)


@pytest.mark.parametrize("argv, words", [
    (["--arg", "hidden_size=abc"], "--arg hidden_size is 'abc' (str); it must be a whole number"),
    (["--arg", "num_hidden_layers=-2"], "--arg num_hidden_layers is -2; it must be at least 0"),
    (["--arg", "num_attention_heads=8", "--arg", "num_key_value_heads=3", "--arg", "hidden_size=64"],
     "8 query heads (num_attention_heads) do not divide among 3 key/value heads"),
    (["--arg", "num_attention_heads=3", "--arg", "num_key_value_heads=3", "--arg", "hidden_size=64"],
     "hidden_size = 64 does not split into num_attention_heads = 3 heads"),
])
def test_config_errors_name_their_cause(argv, words):
    result = run_cli(["llm", "hf:mistralai/Mistral-7B-v0.1", "--tokens", "8", *argv])
    assert result.exit_code == 2
    assert words in result.stderr and "--input" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2


def test_string_width_in_a_config_file_is_named(tmp_path):
    fields = {**find_published("mistral-7b").fields(), "hidden_size": "4096"}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(fields), encoding="utf-8")
    result = run_cli(["llm", f"hf:{path}", "--tokens", "8"])
    assert result.exit_code == 2
    assert "the config's hidden_size is '4096' (str); it must be a whole number" in result.stderr


def test_boolean_arg_is_read_as_in_config_json():
    import archcalc

    untied = archcalc.analyze("hf:gpt2", tokens=8, args={"n_layer": 1, "tie_word_embeddings": "false"})
    tied = archcalc.analyze("hf:gpt2", tokens=8, args={"n_layer": 1, "tie_word_embeddings": "true"})
    assert untied.totals.params - tied.totals.params == 50257 * 768  # the LM head's own matrix
