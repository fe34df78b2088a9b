"""Sparse input features and CSR x dense products with hand-written gradients (docs/search.md, Speed)."""

from __future__ import annotations

import warnings

import torch

#: input features with at most this fraction of non-zero codes are kept as sparse tensors (the CSR products
#: beat the dense ones up to about half dense: the co-purchase graphs' features are 35 % non-zero)
SPARSE_INPUT_DENSITY = 0.5


def project(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``x @ w[h]`` for every head: (N, in) x (heads, in, out) -> (N, heads, out); ``x`` dense or sparse
    COO (a sparse product visits only the non-zeros: bag-of-words features are 1-35 % dense)."""
    if not x.is_sparse:
        return torch.einsum("ni,hio->nho", x, w)
    heads, fan_in, out = w.shape
    rows = SparseRows.of(x)
    return RowsProduct.apply(x.values(), w.permute(1, 0, 2).reshape(fan_in, heads * out), rows).view(-1, heads, out)


class SparseRows:
    """The CSR structure of a coalesced COO matrix's non-zeros (row-major, so COO order *is* CSR order)
    and, built on first use, that of its transpose: products run as CSR x dense, 10-15x faster than torch's
    COO product here. Cached per indices tensor (the input features' indices live for the whole run);
    ``GraphTensors.rows`` is the graph's (destination, source) structure."""

    _cache: dict[tuple, SparseRows] = {}

    def __init__(self, indices: torch.Tensor, shape: tuple[int, int]) -> None:
        """``indices`` (2, nnz): row-major sorted (row, column) pairs of a ``shape`` matrix."""
        self.indices, self.shape = indices, shape
        self.row, self.col = indices[0], indices[1].contiguous()
        self.crow = torch._convert_indices_from_coo_to_csr(self.row, shape[0])
        self._transpose: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    @classmethod
    def of(cls, x: torch.Tensor) -> SparseRows:
        """The structure of sparse COO ``x``; the cache holds its indices alive, so their address identifies them."""
        indices = x.indices()
        key = (indices.device, indices.data_ptr(), indices.shape[1], tuple(x.shape))
        rows = cls._cache.get(key)
        if rows is None:
            if len(cls._cache) >= 8:
                cls._cache.clear()
            rows = cls._cache[key] = cls(indices, tuple(x.shape))
        return rows

    def matrix(self, values: torch.Tensor) -> torch.Tensor:
        return _csr(self.crow, self.col, values, self.shape)

    def transpose(self, values: torch.Tensor) -> torch.Tensor:
        if self._transpose is None:
            order = torch.argsort(self.col, stable=True)
            crow = torch._convert_indices_from_coo_to_csr(self.col[order], self.shape[1])
            self._transpose = (order, crow, self.row[order].contiguous())
        order, crow, col = self._transpose
        return _csr(crow, col, values[order], self.shape[::-1])


def _csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """A CSR tensor, without torch's "beta" warning (the products used, CSR x dense and ``sampled_addmm``,
    are checked bit for bit against the golden model by the layer tests)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, shape, device=values.device, check_invariants=False)


class RowsProduct(torch.autograd.Function):
    """``csr(values) @ w`` with the gradients of ``values`` (``grad @ w.T`` at the non-zeros only) and of ``w``
    (the transposed CSR times ``grad``)."""

    @staticmethod
    def forward(ctx, values: torch.Tensor, w: torch.Tensor, rows: SparseRows) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(values, w)
        ctx.rows = rows
        return rows.matrix(values) @ w

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        values, w = ctx.saved_tensors
        rows: SparseRows = ctx.rows
        grad_values = torch.sparse.sampled_addmm(rows.matrix(values), grad, w.t().contiguous(), beta=0.0)\
            .values() if ctx.needs_input_grad[0] else None
        grad_w = rows.transpose(values) @ grad if ctx.needs_input_grad[1] else None
        return grad_values, grad_w, None


def as_double(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``x * scale`` in float64; a sparse ``x`` keeps its indices tensor (so ``SparseRows.of`` finds it)."""
    if x.is_sparse:
        return sparse_coo(x.indices(), x.values().double() * scale, x.shape)
    return x.double() * scale if scale != 1.0 else x.double()


def to_dense(x: torch.Tensor) -> torch.Tensor:
    return x.to_dense() if x.is_sparse else x


def sparse_coo(indices: torch.Tensor, values: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """A coalesced sparse COO tensor (``indices`` from ``nonzero``, hence sorted: no invariant checks)."""
    return torch.sparse_coo_tensor(indices, values, shape, device=values.device, is_coalesced=True,
                                   check_invariants=False)


def sparse_indices(dense: torch.Tensor) -> torch.Tensor | None:
    """Indices (2, nnz) of a 2-D tensor's non-zeros when at most ``SPARSE_INPUT_DENSITY`` of it is non-zero,
    else None (kept dense)."""
    nz = dense.detach() != 0
    if dense.dim() != 2 or float(nz.float().mean()) > SPARSE_INPUT_DENSITY:
        return None
    return nz.nonzero().t()


def sparse_layout(dense: torch.Tensor, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``tensors`` (each shaped like ``dense``) as sparse COO on ``dense``'s non-zeros (``sparse_indices``),
    else unchanged. Products are exact either way."""
    idx = sparse_indices(dense)
    if idx is None:
        return tensors
    return tuple(sparse_coo(idx, t[idx[0], idx[1]], t.shape) for t in tensors)
