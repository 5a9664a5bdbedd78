"""Coefficients of the ``log1p`` polynomial in ``jaxsched._fastmath``: run this script.

``log1p(t) = t + t**2 g(t)`` on ``t`` in ``[sqrt(1/2) - 1, sqrt(2) - 1]``; ``g`` is
interpolated in float64 at 4,001 Chebyshev points by a degree-8 polynomial and
printed in the monomial basis (``_LOG1P`` in ``_fastmath.py``). Its relative
error as a float64 ``log1p`` is about 1e-8 over the interval, far below float32's
rounding (the float32 evaluation is tested in ``tests/test_fastmath.py``).
"""

from __future__ import annotations

import numpy as np

DEGREE = 8


def coefficients(degree: int = DEGREE) -> np.ndarray:
    lo, hi = np.sqrt(0.5) - 1.0, np.sqrt(2.0) - 1.0
    x = np.cos(np.linspace(0.0, np.pi, 4001))
    t = x * (hi - lo) / 2 + (hi + lo) / 2
    t = t[np.abs(t) > 1e-6]  # g's removable singularity at 0 (g(0) = -1/2)
    g = (np.log1p(t) - t) / t**2
    cheb = np.polynomial.Chebyshev.fit(t, g, degree, domain=[lo, hi])
    return cheb.convert(kind=np.polynomial.Polynomial).coef


def main() -> None:
    c = coefficients()
    lo, hi = np.sqrt(0.5) - 1.0, np.sqrt(2.0) - 1.0
    t = np.linspace(lo, hi, 200_001)
    approx = t + t**2 * np.polynomial.polynomial.polyval(t, c)
    err = np.abs(approx - np.log1p(t)) / np.maximum(np.abs(np.log1p(t)), 1e-300)
    print(f"max relative error (float64 evaluation): {err.max():.2e}")
    print("_LOG1P = (")
    for v in c:
        print(f"    {float(v)!r},")
    print(")")


if __name__ == "__main__":
    main()
