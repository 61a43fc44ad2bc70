"""Peak compute and memory bandwidth of a device: a table of known GPUs, or measured.

The roofline model (:mod:`archcalc.verify.roofline`) needs two numbers per
device: the peak FLOP/s for the layer's kind of work and dtype, and the peak
memory bandwidth. For the GPUs below they come from the vendor's datasheet
(dense numbers: NVIDIA's datasheets print tensor-core figures "with
sparsity", twice the dense rate; the table holds half of those). For any
other device, the CPU included, :func:`measure_peaks` measures them on the
spot with a short matmul and a large copy.

Which peak applies to a layer (:meth:`DevicePeaks.flops_per_s`):

* dot-product layers (conv, linear, matmul) in float16 / bfloat16: the
  tensor-core rate of that dtype;
* dot-product layers in float32: the TF32 tensor-core rate when PyTorch lets
  the library use TF32 (``torch.backends.cudnn.allow_tf32``, on by default,
  for convolutions; ``torch.backends.cuda.matmul.allow_tf32``, off by
  default, for matrix products), else the FP32 rate of the CUDA cores;
* every other layer: the FP32 rate of the CUDA cores (they are memory-bound
  on every device here anyway).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

TERA = 1e12
GIGA = 1e9


@dataclass(frozen=True)
class DevicePeaks:
    """Dense peak TFLOP/s per kind of arithmetic and memory bandwidth in GB/s (10^9 B/s)."""

    name: str
    fp32: float
    tf32: float
    bf16: float
    fp16: float
    bandwidth_gbs: float
    source: str
    measured: bool = False
    #: device memory in GB (10^9 bytes), from the same datasheet; None when unknown (measured peaks)
    memory_gb: float | None = None

    def flops_per_s(self, dtype: str, dot: bool, tf32_allowed: bool = False) -> float:
        """Peak FLOP/s for a layer of ``dtype``; ``dot``: a conv / linear / matmul layer."""
        if not dot:
            return self.fp32 * TERA
        if dtype == "float16":
            return self.fp16 * TERA
        if dtype == "bfloat16":
            return self.bf16 * TERA
        return (self.tf32 if tf32_allowed else self.fp32) * TERA

    @property
    def bandwidth(self) -> float:
        """Peak memory bandwidth in bytes per second."""
        return self.bandwidth_gbs * GIGA

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fp32_tflops": self.fp32,
            "tf32_tflops": self.tf32,
            "bf16_tflops": self.bf16,
            "fp16_tflops": self.fp16,
            "bandwidth_gbs": self.bandwidth_gbs,
            "source": self.source,
            "measured": self.measured,
            "memory_gb": self.memory_gb,
        }


#: (pattern on torch.cuda.get_device_name(), peaks); the first match wins, so
#: specific variants come before the generic name.
KNOWN_GPUS: tuple[tuple[str, DevicePeaks], ...] = (
    # NVIDIA H200 Tensor Core GPU datasheet (H200 SXM): FP32 67 TFLOPS; TF32 989,
    # BF16 / FP16 1,979 TFLOPS with sparsity; 4.8 TB/s HBM3e.
    ("H200", DevicePeaks("NVIDIA H200 SXM", 67.0, 494.7, 989.4, 989.4, 4800.0,
                         "NVIDIA H200 Tensor Core GPU datasheet (SXM), dense = sparse / 2", memory_gb=141.0)),
    # NVIDIA H100 Tensor Core GPU datasheet (H100 PCIe): FP32 51 TFLOPS; TF32 756,
    # BF16 / FP16 1,513 TFLOPS with sparsity; 2 TB/s.
    ("H100 PCIe", DevicePeaks("NVIDIA H100 PCIe", 51.0, 378.0, 756.0, 756.0, 2000.0,
                              "NVIDIA H100 Tensor Core GPU datasheet (PCIe), dense = sparse / 2", memory_gb=80.0)),
    # NVIDIA H100 Tensor Core GPU datasheet (H100 SXM): FP32 67 TFLOPS; TF32 989,
    # BF16 / FP16 1,979 TFLOPS with sparsity; 3.35 TB/s HBM3.
    ("H100", DevicePeaks("NVIDIA H100 SXM", 67.0, 494.7, 989.4, 989.4, 3350.0,
                         "NVIDIA H100 Tensor Core GPU datasheet (SXM), dense = sparse / 2", memory_gb=80.0)),
    # NVIDIA A100 Tensor Core GPU datasheet: FP32 19.5 TFLOPS; TF32 156, BF16 / FP16
    # 312 TFLOPS dense; A100 80GB PCIe 1,935 GB/s, A100 80GB SXM 2,039 GB/s, 40GB 1,555 GB/s.
    ("A100 80GB PCIe", DevicePeaks("NVIDIA A100 80GB PCIe", 19.5, 156.0, 312.0, 312.0, 1935.0,
                                   "NVIDIA A100 Tensor Core GPU datasheet (80GB PCIe)", memory_gb=80.0)),
    ("A100-SXM4-80GB", DevicePeaks("NVIDIA A100 80GB SXM", 19.5, 156.0, 312.0, 312.0, 2039.0,
                                   "NVIDIA A100 Tensor Core GPU datasheet (80GB SXM)", memory_gb=80.0)),
    ("A100", DevicePeaks("NVIDIA A100 40GB", 19.5, 156.0, 312.0, 312.0, 1555.0,
                         "NVIDIA A100 Tensor Core GPU datasheet (40GB PCIe / SXM)", memory_gb=40.0)),
    # NVIDIA L40S datasheet: FP32 91.6 TFLOPS; TF32 183, BF16 / FP16 362.05 TFLOPS dense
    # (366 / 733 with sparsity); 48 GB GDDR6, 864 GB/s.
    ("L40S", DevicePeaks("NVIDIA L40S", 91.6, 183.0, 362.05, 362.05, 864.0,
                         "NVIDIA L40S datasheet (dense)", memory_gb=48.0)),
    # NVIDIA L4 Tensor Core GPU datasheet: FP32 30.3 TFLOPS; TF32 120, BF16 / FP16
    # 242 TFLOPS with sparsity; 300 GB/s GDDR6.
    ("L4", DevicePeaks("NVIDIA L4", 30.3, 60.0, 121.0, 121.0, 300.0,
                       "NVIDIA L4 Tensor Core GPU datasheet, dense = sparse / 2", memory_gb=24.0)),
    # NVIDIA T4 Tensor Core GPU datasheet: FP32 8.1 TFLOPS, mixed precision (FP16/FP32)
    # 65 TFLOPS, 320 GB/s GDDR6. Turing has no TF32 nor BF16 tensor cores: FP32 rate.
    ("T4", DevicePeaks("NVIDIA T4", 8.1, 8.1, 8.1, 65.0, 320.0,
                       "NVIDIA T4 Tensor Core GPU datasheet (no TF32 / BF16 tensor cores)", memory_gb=16.0)),
    # NVIDIA Ada Lovelace GPU architecture whitepaper, GeForce RTX 4090 column: FP32 82.6
    # TFLOPS; TF32 tensor 82.6, BF16 and FP16 tensor with FP32 accumulate 165.2 TFLOPS
    # (dense); 1,008 GB/s GDDR6X.
    ("4090", DevicePeaks("NVIDIA GeForce RTX 4090", 82.6, 82.6, 165.2, 165.2, 1008.0,
                         "NVIDIA Ada Lovelace architecture whitepaper (RTX 4090, FP32 accumulate)",
                         memory_gb=24.0)),
)


#: the names ``--gpu`` takes (archcalc MODEL --gpu h100) -> the pattern of KNOWN_GPUS they pick
GPU_NAMES = {
    "h100": "H100",
    "h100-sxm": "H100",
    "h100-pcie": "H100 PCIe",
    "h200": "H200",
    "a100": "A100-SXM4-80GB",
    "a100-80gb": "A100-SXM4-80GB",
    "a100-40gb": "A100",
    "l40s": "L40S",
    "l4": "L4",
    "t4": "T4",
    "rtx4090": "4090",
    "4090": "4090",
}
#: the GPUs an LLM sizing shows by default
SERVING_GPUS = ("h100", "h200", "a100", "l40s", "rtx4090")


def gpu_by_name(name: str) -> DevicePeaks:
    """The datasheet peaks of a GPU by the short name ``--gpu`` takes (``h100``, ``l40s``, ``rtx4090``)."""
    from archcalc.errors import InputError

    key = name.strip().lower().replace(" ", "").replace("_", "-")
    pattern = GPU_NAMES.get(key)
    if pattern is None:
        raise InputError(f"unknown GPU {name!r} (choose from {', '.join(GPU_NAMES)})")
    return next(peaks for known, peaks in KNOWN_GPUS if known == pattern)


def lookup_gpu(device_name: str) -> DevicePeaks | None:
    """The datasheet peaks of a GPU named as ``torch.cuda.get_device_name()`` names it."""
    for pattern, peaks in KNOWN_GPUS:
        if re.search(rf"(?<![A-Za-z0-9]){re.escape(pattern)}(?![0-9])", device_name, re.IGNORECASE):
            return peaks
    return None


def measure_peaks(device: str, dtype: str, name: str, matmul_size: int | None = None,
                  copy_mib: int | None = None, repeats: int = 3) -> DevicePeaks:
    """Peaks measured on the spot: the best of ``repeats`` timings of

    * an ``n x n`` matmul in ``dtype`` (``2 n^3`` FLOPs), n = 1024 on a CPU, 4096 on a GPU;
    * a copy of a ``copy_mib`` MiB buffer (read + write: ``2 x size`` bytes), 128 MiB
      on a CPU, 512 MiB on a GPU.

    The one measured FLOP rate stands for every kind of arithmetic.
    """
    import torch

    torch_dtype = getattr(torch, dtype)
    cuda = device.startswith("cuda")
    n = matmul_size or (4096 if cuda else 1024)
    mib = copy_mib or (512 if cuda else 128)

    def timed(function, *args) -> float:
        function(*args)
        if cuda:
            torch.cuda.synchronize(device)
        best = []
        for _ in range(repeats):
            start = time.perf_counter()
            function(*args)
            if cuda:
                torch.cuda.synchronize(device)
            best.append(time.perf_counter() - start)
        return min(best)

    with torch.no_grad():
        a = torch.randn(n, n, device=device).to(torch_dtype)
        b = torch.randn(n, n, device=device).to(torch_dtype)
        matmul_s = timed(torch.mm, a, b)
        del a, b
        src = torch.ones(mib * 2**20 // 4, device=device, dtype=torch.float32)
        dst = torch.empty_like(src)
        copy_s = timed(dst.copy_, src)
        del src, dst
    tflops = 2 * n**3 / matmul_s / TERA
    gbs = 2 * mib * 2**20 / copy_s / GIGA
    return DevicePeaks(
        name=name,
        fp32=tflops,
        tf32=tflops,
        bf16=tflops,
        fp16=tflops,
        bandwidth_gbs=gbs,
        source=f"measured here: best of {repeats} {n}x{n} {dtype} matmuls and {mib} MiB copies",
        measured=True,
    )
