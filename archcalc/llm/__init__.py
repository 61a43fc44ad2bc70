"""Transformers and LLMs: Hugging Face models from their configs, training memory plans,
KV cache, attention conventions and the prefill / decode roofline.

* :mod:`archcalc.llm.hf` -- ``hf:NAME`` and ``hf:path/config.json``: a ``transformers``
  model built from its config on the meta device (no weights, no network);
* :mod:`archcalc.llm.memory_plans` -- weights, gradients and optimizer state per GPU
  under a precision, an optimizer and a ZeRO stage (Rajbhandari et al. 2020);
* :mod:`archcalc.llm.saved_tensors` -- the activations autograd keeps for backward,
  measured on meta tensors (with and without activation checkpointing);
* :mod:`archcalc.llm.kv_cache` -- the key/value cache of every attention layer;
* :mod:`archcalc.llm.compute` -- attention conventions and training FLOPs;
* :mod:`archcalc.llm.serving` -- prefill and decode on named GPUs (roofline);
* :mod:`archcalc.llm.sizing` -- all of that for one Report, as the CLI shows it.

Nothing here imports torch at module level except :mod:`hf` and :mod:`saved_tensors`,
which are only imported for live modules.
"""
