"""Failures of the current live capture observed in the transformers sweep: (model type,
aspect) -> the cause. tests/test_hf_sweep.py marks them ``xfail(strict=False)``; an XPASS
means the capture now gets it right: remove the entry. Made by tools/sweep_known.py from the
output of ``python tests/hf_sweep.py`` (one JSON line per model type)."""

# fmt: off
KNOWN: dict[tuple[str, str], str] = {
    ('vits', 'flops'): 'value-dependent: VITS draws its durations from noise; forward reads values, so archcalc runs its real fallback on another random input than the truth (FLOPs follow the lengths drawn)',
    ('vits', 'shape'): 'value-dependent: the waveform and spectrogram lengths follow the durations drawn from noise (see flops)',
}
# fmt: on
