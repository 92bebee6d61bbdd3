"""Winograd minimal filtering F(m x m, 3 x 3) for 3x3 stride-1 convolutions: the matrices and
the work they imply.

Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016: an output tile
Y (m x m) of a 3x3 correlation is Y = A^T [ (G g G^T) (.) (B^T d B) ] A, where d is the
(m + 2) x (m + 2) input tile, g the 3x3 filter and (.) the element-wise product. Per tile,
channel and filter that is alpha^2 = (m + 2)^2 multiplications instead of m^2 x 9: 16 instead of
36 for F(2x2,3x3) (2.25x fewer) and 36 instead of 144 for F(4x4,3x3) (4x fewer). Summed over
input channels the element-wise products become alpha^2 independent GEMMs of
(tiles x C) @ (C x F) (Lavin & Gray Sec. 4.1), which is how a GEMM engine runs them.

The transforms cost additions (and, for F(4x4), multiplications by small constants, most of
them powers of two, i.e. shifts). We count them from the matrices below, applied as plain
matrix products without common-subexpression sharing (an upper bound; hand-optimised kernels
share terms): applying an r x c transform matrix to one vector costs (non-zeros in the row - 1)
additions per row and one scaling per coefficient other than 0 and +-1.

- Input transform B^T d B (per tile and input channel): B^T on the alpha columns of d, then on
  the alpha rows of the result: 2 alpha x adds(B^T). F(2x2): adds(B^T) = 4 (one per row), so
  2 x 4 x 4 = 32 additions, no scalings. F(4x4): adds(B^T) = 2+3+3+3+3+2 = 16, so
  2 x 6 x 16 = 192 additions, and 2 x 6 x 12 = 144 scalings (12 coefficients of B^T are
  +-2, +-4 or -5).
- Output transform A^T M A (per tile and output filter): A^T on the alpha columns of M, then on
  the m rows of the (m x alpha) result: (alpha + m) x adds(A^T). F(2x2): adds(A^T) = 2 + 2 = 4,
  so 6 x 4 = 24 additions. F(4x4): adds(A^T) = 4+3+3+4 = 14, so 10 x 14 = 140 additions, and
  10 x 6 = 60 scalings (+-2, 4, +-8).
- Filter transform G g G^T: done once, offline; the chip stores the transformed alpha x alpha
  filters, so stored weights grow by alpha^2 / 9 = 16/9 (F(2x2)) or 36/9 (F(4x4)).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

Matrix = tuple[tuple[Fraction, ...], ...]


def _m(rows: list[list[object]]) -> Matrix:
    return tuple(tuple(Fraction(str(v)) for v in row) for row in rows)


@dataclass(frozen=True)
class WinogradAlgorithm:
    """F(m x m, r x r) with its transform matrices (Lavin & Gray, CVPR 2016, Sec. 4)."""

    name: str
    m: int
    r: int
    bt: Matrix     # B^T, alpha x alpha (input transform)
    g: Matrix      # G, alpha x r (filter transform)
    at: Matrix     # A^T, m x alpha (output transform)

    @property
    def alpha(self) -> int:
        """Input tile size m + r - 1."""
        return self.m + self.r - 1

    @property
    def mult_reduction(self) -> Fraction:
        """Direct multiplications per Winograd multiplication: m^2 r^2 / alpha^2."""
        return Fraction(self.m ** 2 * self.r ** 2, self.alpha ** 2)

    @property
    def weight_growth(self) -> Fraction:
        """Stored (transformed) weights per original weight: alpha^2 / r^2."""
        return Fraction(self.alpha ** 2, self.r ** 2)

    @property
    def input_transform_adds(self) -> int:
        """Additions of B^T d B per tile and input channel."""
        return 2 * self.alpha * matrix_adds(self.bt)

    @property
    def input_transform_scalings(self) -> int:
        return 2 * self.alpha * matrix_scalings(self.bt)

    @property
    def output_transform_adds(self) -> int:
        """Additions of A^T M A per tile and output filter."""
        return (self.alpha + self.m) * matrix_adds(self.at)

    @property
    def output_transform_scalings(self) -> int:
        return (self.alpha + self.m) * matrix_scalings(self.at)


def matrix_adds(matrix: Matrix) -> int:
    """Additions to multiply one vector by `matrix`: (non-zeros - 1) per non-empty row."""
    return sum(max(0, sum(1 for v in row if v != 0) - 1) for row in matrix)


def matrix_scalings(matrix: Matrix) -> int:
    """Multiplications by a constant other than 0 and +-1 to multiply one vector by `matrix`."""
    return sum(1 for row in matrix for v in row if v not in (0, 1, -1))


#: Lavin & Gray, CVPR 2016, Sec. 4.1 (F(2x2,3x3)) and Sec. 4.2 (F(4x4,3x3)); checked against
#: direct correlation in tests/core/test_winograd.py.
ALGORITHMS: dict[str, WinogradAlgorithm] = {
    "f2": WinogradAlgorithm(
        name="F(2x2,3x3)", m=2, r=3,
        bt=_m([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]),
        g=_m([[1, 0, 0], ["1/2", "1/2", "1/2"], ["1/2", "-1/2", "1/2"], [0, 0, 1]]),
        at=_m([[1, 1, 1, 0], [0, 1, -1, -1]])),
    "f4": WinogradAlgorithm(
        name="F(4x4,3x3)", m=4, r=3,
        bt=_m([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
               [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]),
        g=_m([["1/4", 0, 0], ["-1/6", "-1/6", "-1/6"], ["-1/6", "1/6", "-1/6"],
              ["1/24", "1/12", "1/6"], ["1/24", "-1/12", "1/6"], [0, 0, 1]]),
        at=_m([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
               [0, 1, -1, 8, -8, 1]])),
}
WINOGRAD_VARIANTS = tuple(ALGORITHMS)


def output_tiles(ho: int, wo: int, m: int) -> int:
    """m x m output tiles covering an ho x wo output (edge tiles are partly wasted work)."""
    return -(-ho // m) * -(-wo // m)


def eligibility_problem(kernel: tuple[int, int], stride: tuple[int, int],
                        dilation: tuple[int, int]) -> str | None:
    """Why a convolution cannot use F(m x m, 3 x 3), or None when it can."""
    problems = []
    if kernel != (3, 3):
        problems.append(f"kernel {kernel[0]}x{kernel[1]}")
    if stride != (1, 1):
        problems.append(f"stride {stride[0]}x{stride[1]}")
    if dilation != (1, 1):
        problems.append(f"dilation {dilation[0]}x{dilation[1]}")
    if not problems:
        return None
    return ("Winograd F(m x m, 3 x 3) needs a 3x3 stride-1 undilated convolution, got "
            + ", ".join(problems))
