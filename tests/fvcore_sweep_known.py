"""Model types of the transformers sweep whose ``fvcore`` preset total differs from
``fvcore.nn.FlopCountAnalysis(...).total()``, each with its named cause (docs/conventions.md,
"Where the fvcore preset and fvcore differ"). tests/test_fvcore_sweep.py checks a sample:
a type listed here must differ, any other must be equal. Made from the output of
``python tools/sweep_fvcore.py`` (issue 16); ``unclassified`` marks a difference not yet
traced to its cause.

Causes (fvcore's side unless said):
  numpy-einsum      an einsum other than fvcore's two bmm-like equations is priced by numpy's
                    ``einsum_path`` estimate, printed to 4 significant digits
  dead-code         fvcore's jit trace drops ops whose result no output uses; they ran
  baddbmm           no handle for ``aten::baddbmm`` (0)
  convolution-mode  a conv with string padding traces to ``aten::_convolution_mode``: no handle (0)
  einsum-constants  archcalc: an einsum on tensors the forward built from constants (no activation
                    operand) is priced at the aten level, where a size-1 contraction runs as a mul (0)
  sdpa-constant     archcalc: SDPA whose query is a learned tensor is captured as its math path's
                    matmuls; fvcore has no handle for SDPA (0)
  python-op         a custom ``torch.autograd.Function`` traces to ``prim::PythonOp``: no handle (0)
  tracing-branch    the model takes another branch under ``torch.jit.is_tracing()``: fvcore counts work
                    the eager forward does not do
  batch-loop-constants  archcalc: constant work in a Python loop over the samples of a forward run
                    for real at a prime batch is counted once per iteration
"""

# fmt: off
KNOWN: dict[str, str] = {
    # numpy's einsum estimate (a few units to 0.03%)
    **dict.fromkeys(("bamba", "mamba2", "granitemoehybrid", "cvt", "funnel", "mgp-str", "longt5", "nemo_speechlm",
                     "nemotron_h", "nemotron_h_omni", "pp_formulanet", "pp_formulanet_vision", "sam", "sam_hq",
                     "sam_hq_vision_model"), "numpy-einsum"),
    "longformer": "numpy-einsum, einsum-constants (the diagonal mask einsum on torch.ones)",
    "led": "numpy-einsum, einsum-constants (Longformer's attention)",
    "bloom": "baddbmm (alibi scores)",
    "gpt_neox_japanese": "baddbmm",
    **dict.fromkeys(("granite_docling_vision", "idefics3_vision", "janus_vision_model"), "convolution-mode (patch embedding)"),
    "phi4_multimodal_vision": "convolution-mode, baddbmm",
    **dict.fromkeys(("siglip_vision_model", "smolvlm_vision"), "convolution-mode (patch embedding)"),
    "wavlm": "baddbmm (relative position bias)",
    **dict.fromkeys(("wav2vec2-bert", "xlnet"), "numpy-einsum"),
    # traced module by module: the unused work named
    "encoder-decoder": "dead-code (the encoder's pooler)",
    "flava": "dead-code (text_to_mm_projection without an image)",
    "deepseek_v4": "dead-code (the compressor's gate_proj on a sequence shorter than a window)",
    "lilt": "dead-code (the last layer's layout branch)",
    "chmv2": "dead-code (backbone.norm on the hidden states no stage returns)",
    "minimax": "dead-code (the lightning attention's key-value state after the last block)",
    "lara_mini": "dead-code (the linear attention's state after the last chunk)",
    "mask2former": "baddbmm, dead-code, numpy-einsum",
    "aimv2": "sdpa-constant (the attention-pooling head's cls token)",
    "maskformer": "dead-code (the Swin backbone's final layernorm: the pixel decoder reads the stage maps)",
    "mra": "dead-code (key and value projections: without its CUDA kernel the attention returns zeros)",
    "pegasus_x": "dead-code (the last encoder layer's global-token branch), numpy-einsum",
    **dict.fromkeys(("sam2_hiera_det_model", "sam2_vision_model"),
                    "dead-code (the multi-scale attention's unused attn_weights product)"),
    "upernet": "dead-code (the auxiliary head without labels)",
    "uvdoc_backbone": "dead-code (the bridge blocks whose feature maps are not returned)",
    "vision-encoder-decoder": "dead-code (the encoder's pooler)",
    "sam_vision_model": "numpy-einsum",
    "recurrent_gemma": "baddbmm (the RG-LRU's input and recurrent gates)",
    "yoso": "python-op (YosoCumulation: the attention's two matmuls)",
    "step3p5_vision": "tracing-branch (position embeddings resized to their own size under torch.jit tracing)",
    # the same +einsum/matmul pattern as lara_mini (the recurrent state after the last chunk), not traced one by one
    **dict.fromkeys(("bailing_hybrid", "kimi_linear", "glm5_next_text", "minicpm_ocr", "minicpmv4_6", "minicpmv4_7",
                     "qwen3_5", "qwen3_5_moe", "qwen3_5_moe_text", "qwen3_5_text", "qwen3_next", "qwen4_exp_text",
                     "olmo_hybrid"), "dead-code (inferred: linear-attention final state)"),
    "vilt": "batch-loop-constants (position embeddings resized per sample to sizes read from the mask)",
    "vits": "unclassified (value-dependent: its durations are drawn from noise as in tests/hf_sweep_known.py)",
}
# fmt: on
