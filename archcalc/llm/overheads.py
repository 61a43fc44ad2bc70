"""Memory a GPU process uses beyond its tensors: the CUDA context and the caching allocator's reserve.

Neither can be measured without a GPU, nor derived from the model: archcalc adds a named estimate,
``--cuda-overhead`` (default :data:`DEFAULT_CUDA_OVERHEAD`), as its own line of the memory plan.

* **CUDA context**: the driver's state and the loaded kernels, created at the first CUDA call.
  Since CUDA 11.7 kernels load lazily (``CUDA_MODULE_LOADING=LAZY``) and PyTorch's context takes
  "~300MB" (ptrblck, PyTorch's CUDA maintainer, in pytorch/pytorch#107667, 2023; before 11.7, over
  1,000 MB); users report 300-400 MB per process (pytorch/pytorch#20532) and 200-700 MB by GPU and
  driver (pytorch/pytorch#28113).
* **Allocator reserve**: PyTorch's caching allocator keeps freed blocks and rounds requests up
  (``torch.cuda.memory_reserved() - torch.cuda.memory_allocated()``); it depends on the order of
  allocations (fragmentation), so it is part of the same estimate, not a formula.

The default, 512 MiB, is the context's ~300 MB rounded up for cuBLAS / cuDNN workspaces and a
modest reserve. To measure it on a GPU: ``free, total = torch.cuda.mem_get_info()`` before any
CUDA call (from ``nvidia-smi``) and after ``torch.cuda.init()`` gives the context (``total - free``
after init, with no tensors); after a training step, ``torch.cuda.memory_reserved() -
torch.cuda.max_memory_allocated()`` gives the allocator's slack (benchmarks/gpu_llm_check.py prints both).
"""

from __future__ import annotations

import re

from archcalc.errors import InputError

#: the default CUDA context + allocator reserve per GPU, bytes (an estimate; see the module docstring)
DEFAULT_CUDA_OVERHEAD = 512 * 2**20
CUDA_OVERHEAD_SOURCE = ("an estimate (the context ~300 MB with lazy kernel loading, pytorch/pytorch#107667); "
                        "--cuda-overhead sets it")

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$", re.I)


def parse_size(text: str, option: str = "--cuda-overhead") -> int:
    """Bytes of a size written ``0.5GiB``, ``300MB``, ``512MiB`` or ``0`` (binary units: KiB, MiB, GiB;
    decimal: KB, MB, GB; a bare number is bytes)."""
    match = _SIZE.match(str(text))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise InputError(f"{option} takes a size such as 0.5GiB, 300MB or 0, got {text!r}")
    return int(round(float(match.group(1)) * _UNITS[unit]))
