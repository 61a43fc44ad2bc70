"""Transformers and LLMs: Hugging Face models from their configs, training memory plans,
KV cache, attention conventions and the prefill / decode roofline.

* :mod:`archcalc.llm.hf` -- ``hf:NAME`` and ``hf:path/config.json``: a ``transformers``
  model built from its config on the meta device (no weights, no network);
* :mod:`archcalc.llm.memory_plans` -- weights, gradients and optimizer state per GPU
  under a precision, an optimizer and a ZeRO stage (Rajbhandari et al. 2020);
* :mod:`archcalc.llm.saved_tensors` -- the activations autograd keeps for backward,
  measured on meta tensors (with and without activation checkpointing);
* :mod:`archcalc.llm.published_configs` -- published config.json values of popular open models,
  shipped as data (``configs/*.json``, each with its source); :mod:`config_checks` -- shape
  fields checked with their names;
* :mod:`archcalc.llm.attention_reading` -- heads, masking, windows, cross-attention and MLA read
  from a live model's attention modules and config;
* :mod:`archcalc.llm.moe` -- mixture-of-experts: total and active parameters, experts read per step;
* :mod:`archcalc.llm.lora`, :mod:`parameter_layout`, :mod:`parallel`, :mod:`deepspeed_estimates`
  -- LoRA / QLoRA, the parameter shapes plans need, TP / PP / SP / EP, DeepSpeed's estimators;
* :mod:`archcalc.llm.weight_formats`, :mod:`capacity` -- quantised serving weights, concurrent
  sequences in paged 16-token blocks;
* :mod:`archcalc.llm.kv_cache` -- the key/value cache of every attention layer;
* :mod:`archcalc.llm.compute` -- attention conventions and training FLOPs;
* :mod:`archcalc.llm.serving` -- prefill and decode on named GPUs (roofline);
* :mod:`archcalc.llm.sizing` -- all of that for one Report, as the CLI shows it.

Nothing here imports torch at module level except :mod:`hf` and :mod:`saved_tensors`,
which are only imported for live modules.
"""
