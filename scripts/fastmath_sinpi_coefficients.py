"""Coefficients of the ``sin(pi y)`` polynomial behind ``jaxsched.functional.cosine_factor``: run this script.

``sin(pi y) = y g(y**2)`` on ``|y| <= 1/2``; ``g`` is interpolated in float64 at
4,001 Chebyshev points of ``z = y**2`` in ``[0, 1/4]`` by a degree-4 polynomial
(5 coefficients, Horner's rule in float32) and printed in the monomial basis
(``_SIN_PI`` in ``functional.py``). Its relative error as a float64 ``sin(pi y)``
is about 7e-9, below float32's rounding: the float32 factor's error against
float64 is the same as with the 7-term Taylor series it replaces (1.3e-7, tested
in ``tests/test_fastmath.py``), with two multiply-adds fewer per step.
"""

from __future__ import annotations

import numpy as np

DEGREE = 4


def coefficients(degree: int = DEGREE) -> np.ndarray:
    z = (np.cos(np.linspace(0.0, np.pi, 4001)) + 1.0) / 8.0  # Chebyshev points of [0, 1/4]
    y = np.sqrt(z)
    g = np.where(y > 0, np.sin(np.pi * y) / np.where(y > 0, y, 1.0), np.pi)  # g(0) = pi
    cheb = np.polynomial.Chebyshev.fit(z, g, degree, domain=[0.0, 0.25])
    return cheb.convert(kind=np.polynomial.Polynomial).coef


def main() -> None:
    c = coefficients()
    y = np.linspace(1e-6, 0.5, 200_001)
    approx = y * np.polynomial.polynomial.polyval(y * y, c)
    err = np.abs(approx - np.sin(np.pi * y)) / np.sin(np.pi * y)
    print(f"max relative error (float64 evaluation): {err.max():.2e}")
    print("_SIN_PI = (")
    for v in c:
        print(f"    {float(v)!r},")
    print(")")


if __name__ == "__main__":
    main()
