"""Coefficients of jaxsched's float32 polynomials: run this script.

- ``log1p`` (``_LOG1P`` in ``jaxsched/_fastmath.py``): ``log1p(t) = t + t**2 g(t)``
  on ``t`` in ``[sqrt(1/2) - 1, sqrt(2) - 1]``; ``g`` is interpolated at 4,001
  Chebyshev points (leaving out those within 1e-6 of its removable singularity
  at 0) by a degree-8 polynomial. Relative error as a float64
  ``log1p``: about 1e-8.
- ``sin(pi y)`` on a quarter period (``_SIN_PI4`` in ``jaxsched/functional.py``,
  behind ``cosine_factor`` and ``cosine``): ``sin(pi y) = y g(y**2)`` on
  ``|y| <= 1/4``; ``g`` is interpolated at the 4,001 Chebyshev points of
  ``z = y**2`` in ``[0, 1/16]`` (leaving out ``z = 0``) by a degree-3
  polynomial (4 terms). Relative error as a float64 ``sin(pi y)``: about 3e-9.
- ``sin(pi y)`` on a half period (``sinpi_coefficients``, degree 4 on
  ``|y| <= 1/2``, relative error about 7e-9): not in the package since the
  cosine works on quarter periods (``jaxsched/DESIGN.md``); the benchmark's
  least-arithmetic warmup-cosine (``_bare`` in ``benchmarks/bench_grid.py``)
  evaluates it, which needs no select between two halves.

Both errors are far below float32's rounding; the float32 evaluations are
tested over their whole ranges in ``tests/test_fastmath.py``, which also checks
that the coefficients in the package are the ones printed here. Each is printed
in the monomial basis.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _interpolate(
    g: Callable[[np.ndarray], np.ndarray], lo: float, hi: float, degree: int, away_from: float | None = None
) -> np.ndarray:
    """Monomial coefficients of ``g``'s interpolant at 4,001 Chebyshev points of ``[lo, hi]``.

    ``away_from``: leave out the points within 1e-6 of it (a removable singularity of ``g``).
    """
    x = np.cos(np.linspace(0.0, np.pi, 4001)) * (hi - lo) / 2 + (hi + lo) / 2
    if away_from is not None:
        x = x[np.abs(x - away_from) > 1e-6]
    cheb = np.polynomial.Chebyshev.fit(x, g(x), degree, domain=[lo, hi])
    return cheb.convert(kind=np.polynomial.Polynomial).coef


def log1p_coefficients(degree: int = 8) -> np.ndarray:
    return _interpolate(lambda t: (np.log1p(t) - t) / t**2, np.sqrt(0.5) - 1.0, np.sqrt(2.0) - 1.0, degree, 0.0)


def sinpi_coefficients(degree: int = 4, quarter: float = 0.5) -> np.ndarray:
    """``g`` with ``sin(pi y) = y g(y**2)`` on ``|y| <= quarter``."""
    return _interpolate(lambda z: np.sin(np.pi * np.sqrt(z)) / np.sqrt(z), 0.0, quarter**2, degree, 0.0)


def sinpi4_coefficients(degree: int = 3) -> np.ndarray:
    return sinpi_coefficients(degree, 0.25)


def _report(name: str, coeffs: np.ndarray, approx: np.ndarray, exact: np.ndarray) -> None:
    err = np.abs(approx - exact) / np.maximum(np.abs(exact), 1e-300)
    print(f"# max relative error (float64 evaluation): {err.max():.2e}")
    print(f"{name} = (")
    for v in coeffs:
        print(f"    {float(v)!r},")
    print(")")


def main() -> None:
    t = np.linspace(np.sqrt(0.5) - 1.0, np.sqrt(2.0) - 1.0, 200_001)
    c = log1p_coefficients()
    _report("_LOG1P", c, t + t**2 * np.polynomial.polynomial.polyval(t, c), np.log1p(t))
    y = np.linspace(1e-6, 0.25, 200_001)
    c = sinpi4_coefficients()
    _report("_SIN_PI4", c, y * np.polynomial.polynomial.polyval(y * y, c), np.sin(np.pi * y))
    y = np.linspace(1e-6, 0.5, 200_001)
    c = sinpi_coefficients()
    half = y * np.polynomial.polynomial.polyval(y * y, c)
    _report("sin(pi y) on |y| <= 1/2 (the benchmark's floor)", c, half, np.sin(np.pi * y))


if __name__ == "__main__":
    main()
