"""Checkpoint headers (.safetensors, sharded index, .gguf): every tensor's shape, dtype and bytes
as the writing library wrote them, the header of a huge (sparse) file read fast, the match
against a transformers config, and bad files refused in one or two lines."""

from __future__ import annotations

import json
import struct
import time

import pytest

from archcalc.frontends.checkpoints import read_checkpoint

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")


def written_tensors():
    """Tensors of several dtypes and ranks, as a small model's state dict would hold them."""
    return {
        "encoder.layers.0.attn.weight": torch.zeros(12, 4, dtype=torch.float32),
        "encoder.layers.0.attn.bias": torch.zeros(12, dtype=torch.bfloat16),
        "encoder.layers.1.mlp.weight": torch.zeros(3, 5, 7, dtype=torch.float16),
        "encoder.norm.scale": torch.zeros(4, dtype=torch.float64),
        "head.positions": torch.zeros(2, 3, dtype=torch.int64),
        "step": torch.zeros((), dtype=torch.int32),
    }


def test_safetensors_header_gives_every_tensor(tmp_path):
    tensors = written_tensors()
    path = tmp_path / "model.safetensors"
    safetensors_torch.save_file(tensors, str(path))
    checkpoint = read_checkpoint(path)
    got = {t.name: t for t in checkpoint.tensors}
    assert set(got) == set(tensors)
    dtype_names = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16", torch.float64: "F64",
                   torch.int64: "I64", torch.int32: "I32"}
    for name, tensor in tensors.items():
        assert got[name].shape == tuple(tensor.shape)
        assert got[name].dtype == dtype_names[tensor.dtype]
        assert got[name].numel == tensor.numel()
        assert got[name].nbytes == tensor.numel() * tensor.element_size()
    assert checkpoint.params == sum(t.numel() for t in tensors.values())
    assert checkpoint.nbytes == sum(t.numel() * t.element_size() for t in tensors.values())
    prefixes = checkpoint.by_prefix(2)
    assert prefixes["encoder.layers"][0] == 12 * 4 + 12 + 3 * 5 * 7
    assert prefixes["encoder.norm"][0] == 4
    assert checkpoint.by_prefix()["(top level)"] == (1, 4)  # "step": a scalar


def test_huge_sparse_checkpoint_header_is_read_in_milliseconds(tmp_path):
    """A 140 GB checkpoint (sparse: the data is never written, nor read)."""
    count = 64
    per = 140 * 10**9 // count // 2  # bf16 elements per tensor
    header, offset = {}, 0
    for i in range(count):
        header[f"model.layers.{i}.weight"] = {"dtype": "BF16", "shape": [per], "data_offsets": [offset, offset + 2 * per]}
        offset += 2 * per
    raw = json.dumps(header).encode()
    path = tmp_path / "huge.safetensors"
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(raw)) + raw)
        handle.truncate(8 + len(raw) + offset)
    start = time.perf_counter()
    checkpoint = read_checkpoint(path)
    elapsed = time.perf_counter() - start
    assert checkpoint.nbytes == offset >= 140 * 10**9 - 2 * count
    assert checkpoint.params == count * per
    assert elapsed < 0.25, elapsed


def test_sharded_index_reads_every_shard(tmp_path):
    tensors = written_tensors()
    names = sorted(tensors)
    first, second = names[:3], names[3:]
    safetensors_torch.save_file({n: tensors[n] for n in first}, str(tmp_path / "model-00001-of-00002.safetensors"))
    safetensors_torch.save_file({n: tensors[n] for n in second}, str(tmp_path / "model-00002-of-00002.safetensors"))
    weight_map = {**{n: "model-00001-of-00002.safetensors" for n in first},
                  **{n: "model-00002-of-00002.safetensors" for n in second}}
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}))
    checkpoint = read_checkpoint(index)
    assert {t.name for t in checkpoint.tensors} == set(tensors)
    assert checkpoint.params == sum(t.numel() for t in tensors.values())
    assert len(checkpoint.files) == 2


def test_gguf_header_matches_the_gguf_writer_and_reader(tmp_path):
    gguf = pytest.importorskip("gguf")
    import numpy as np

    path = tmp_path / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(2)
    writer.add_token_list([f"t{i}" for i in range(50)])  # an array of strings in the key/values
    writer.add_token_scores([0.5] * 50)
    plain = np.ones((8, 64), dtype=np.float32)
    half = np.ones((3, 32), dtype=np.float16)
    quantised = gguf.quants.quantize(np.ones((4, 64), dtype=np.float32), gguf.GGMLQuantizationType.Q8_0)
    writer.add_tensor("token_embd.weight", plain)
    writer.add_tensor("blk.0.attn_norm.weight", half)
    writer.add_tensor("blk.0.ffn_up.weight", quantised, raw_shape=quantised.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    checkpoint = read_checkpoint(path)
    got = {t.name: t for t in checkpoint.tensors}
    assert got["token_embd.weight"].shape == (8, 64) and got["token_embd.weight"].dtype == "F32"
    assert got["token_embd.weight"].nbytes == plain.nbytes
    assert got["blk.0.attn_norm.weight"].dtype == "F16" and got["blk.0.attn_norm.weight"].nbytes == half.nbytes
    assert got["blk.0.ffn_up.weight"].dtype == "Q8_0"
    assert got["blk.0.ffn_up.weight"].shape == (4, 64)  # 256 weights, stored as 8 blocks of 34 bytes
    assert got["blk.0.ffn_up.weight"].nbytes == quantised.nbytes == 4 * 64 // 32 * 34
    assert checkpoint.metadata["llama.block_count"] == 2
    assert checkpoint.metadata["general.architecture"] == "llama"
    # gguf's own reader agrees on names, element counts and types
    reader = gguf.GGUFReader(str(path))
    for tensor in reader.tensors:
        assert got[tensor.name].numel == int(tensor.n_elements)
        assert got[tensor.name].dtype == tensor.tensor_type.name
        assert got[tensor.name].nbytes == int(tensor.n_bytes)


def test_huge_sparse_gguf_header_is_read_in_milliseconds(tmp_path):
    """A 32 GB Q4_0 GGUF (sparse; the MLPs of an 80-layer 70B model): tensor infos written by gguf's own
    writer, no data (4.5 bits a weight: blocks of 32 in 18 bytes)."""
    gguf = pytest.importorskip("gguf")
    import numpy as np

    path = tmp_path / "huge.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(80)
    block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q4_0]
    shape = (8192, 28672)  # numpy order, as the writer takes it (it writes ggml's, reversed)
    nbytes = 8192 * 28672 // block * size
    for i in range(80):
        for part in ("ffn_up", "ffn_gate", "ffn_down"):
            writer.add_tensor_info(f"blk.{i}.{part}.weight", shape, np.dtype(np.float32), nbytes,
                                   raw_dtype=gguf.GGMLQuantizationType.Q4_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    with open(path, "r+b") as handle:
        handle.truncate(handle.seek(0, 2) + 240 * nbytes)
    start = time.perf_counter()
    checkpoint = read_checkpoint(path)
    elapsed = time.perf_counter() - start
    assert checkpoint.nbytes == 240 * nbytes == 240 * 8192 * 28672 // 32 * 18 > 30 * 10**9
    assert checkpoint.params == 240 * 8192 * 28672
    assert checkpoint.tensors[0].shape == shape and checkpoint.tensors[0].dtype == "Q4_0"
    assert elapsed < 0.25, elapsed


def tiny_gpt2(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=40, n_positions=32,
                                     bos_token_id=0, eos_token_id=0)
    model = transformers.GPT2LMHeadModel(config)
    config.to_json_file(str(tmp_path / "config.json"))
    return model


def test_config_match_flags_tied_and_missing_tensors(tmp_path):
    from archcalc.frontends.checkpoint_config import match_config

    model = tiny_gpt2(tmp_path)
    path = tmp_path / "model.safetensors"
    safetensors_torch.save_model(model, str(path))  # the tied LM head is stored once
    match = match_config(read_checkpoint(path), str(tmp_path / "config.json"))
    assert match.model == "GPT2LMHeadModel"
    assert match.model_params == sum(p.numel() for p in model.parameters())
    assert len(match.tied) == 1 and not match.missing and not match.unexpected and match.complete
    assert {match.tied[0][0], match.tied[0][1]} == {"lm_head.weight", "transformer.wte.weight"}

    state = {k: v.clone() for k, v in model.state_dict().items() if k not in ("lm_head.weight", "transformer.ln_f.bias")}
    safetensors_torch.save_file(state, str(tmp_path / "partial.safetensors"))
    match = match_config(read_checkpoint(tmp_path / "partial.safetensors"), str(tmp_path / "config.json"))
    assert match.missing == ("transformer.ln_f.bias",)
    assert not match.complete


def test_cli_prints_totals_and_tied_tensors(tmp_path, run_cli):
    model = tiny_gpt2(tmp_path)
    path = tmp_path / "model.safetensors"
    safetensors_torch.save_model(model, str(path))
    result = run_cli(str(path), "--config", str(tmp_path / "config.json"), "--exact")
    assert result.exit_code == 0, result.output
    params = sum(p.numel() for p in model.parameters())
    assert f"({params:,})" in result.stdout
    assert "tied: " in result.stdout
    shallow = run_cli(str(path), "--depth", "1", "--exact")
    assert shallow.exit_code == 0, shallow.output
    rows = {line.split()[0]: line.split()[1] for line in shallow.stdout.splitlines()
            if line.startswith(("transformer ", "lm_head "))}
    assert rows == {"transformer": f"{params - model.lm_head.weight.numel():,}",
                    "lm_head": f"{model.lm_head.weight.numel():,}"}
    result = run_cli(str(path), "--format", "json")
    data = json.loads(result.stdout)
    assert data["params"] == params
    assert len(data["tensors"]) == len(model.state_dict()) - 1


def _bad_files(tmp_path):
    safetensors_torch.save_file(written_tensors(), str(tmp_path / "good.safetensors"))
    whole = (tmp_path / "good.safetensors").read_bytes()
    (tmp_path / "truncated.safetensors").write_bytes(whole[:-10])
    (tmp_path / "short.safetensors").write_bytes(b"\x01\x02")
    (tmp_path / "text.safetensors").write_bytes(b"hello world, not a checkpoint at all")
    (tmp_path / "notjson.safetensors").write_bytes(struct.pack("<Q", 4) + b"{{{{")
    (tmp_path / "magic.gguf").write_bytes(b"GGML" + b"\0" * 40)
    (tmp_path / "cut.gguf").write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 5, 1) + struct.pack("<Q", 1000) + b"ab")
    (tmp_path / "bad.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": "absent.safetensors"}}))
    return {
        "truncated.safetensors": "truncated",
        "short.safetensors": "not a safetensors file",
        "text.safetensors": "not a safetensors file",
        "notjson.safetensors": "not JSON",
        "magic.gguf": "not a GGUF file",
        "cut.gguf": "truncated",
        "bad.safetensors.index.json": "absent.safetensors",
    }


def test_bad_checkpoints_get_one_or_two_lines(tmp_path, run_cli):
    for name, fragment in _bad_files(tmp_path).items():
        result = run_cli(str(tmp_path / name))
        assert result.exit_code == 2, (name, result.output)
        assert result.stderr.startswith("error: ") and fragment in result.stderr, (name, result.stderr)
        assert len(result.stderr.strip().splitlines()) <= 2, result.stderr
