"""XLA:CPU flags the mains run with: convolutions through XNNPACK instead of YNNPACK.

Why: on the P4 U-Net train step (DDPM++, nf 64, batch 32) XLA:CPU's default emitter for a lone
convolution (YNNPACK) ran 3.96-4.10 s/step where XNNPACK's ran 2.99-3.24 s (same losses; interleaved
single processes), with the same compile time. The flags only touch the CPU backend.

Standard library only, and applied through XLA_FLAGS, so it must run before JAX starts its backend
(the first device query); a user's own setting of either flag in XLA_FLAGS wins, and
`SCORESDE_CPU_CONVOLUTIONS=xla` keeps XLA's default emitter (the test suite's tiny convolutions run
no faster with XNNPACK, so the tests keep the default).
"""

import os

CONVOLUTION_FLAGS = (
    "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution",
    "--xla_cpu_experimental_xnn_fusion_type=individual_convolution",
)


def with_convolution_flags(xla_flags: str) -> str:
    """`xla_flags` with CONVOLUTION_FLAGS added, unless it already sets either fusion type."""
    if "ynn_fusion_type" in xla_flags or "xnn_fusion_type" in xla_flags:
        return xla_flags
    return " ".join([xla_flags.strip(), *CONVOLUTION_FLAGS]).strip()


ENV = "SCORESDE_CPU_CONVOLUTIONS"  # "xla": leave XLA_FLAGS alone


def use_convolution_flags(environ=None) -> bool:
    """Add CONVOLUTION_FLAGS to XLA_FLAGS in `environ` (default os.environ); True if they are in effect there."""
    environ = os.environ if environ is None else environ
    if environ.get(ENV, "").strip().lower() == "xla":
        return all(f in environ.get("XLA_FLAGS", "") for f in CONVOLUTION_FLAGS)
    environ["XLA_FLAGS"] = with_convolution_flags(environ.get("XLA_FLAGS", ""))
    return all(f in environ["XLA_FLAGS"] for f in CONVOLUTION_FLAGS)
