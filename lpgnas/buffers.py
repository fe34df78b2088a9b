"""The accelerator's buffers by name: what can live on chip or in external memory (``HardwareConfig.offchip``).

Host buffers are the ones the host fills or reads (memory images, :mod:`hls_templates.images`): the input
features (dense, or the sparse layer 0's grouped CSR), the graph's CSR, per-layer gcn coefficients and mean
reciprocals, and the outputs. Today they are ``ap_memory`` ports; named in ``offchip`` they are served by an AXI4
master from external memory. Internal buffers are the accelerator's own row buffers (``buf_<k>``: the input rows of
layer ``k >= 1``, ``buf_<L>`` the last layer's rows before the store; ``<layer>_lin``: a layer's linear outputs);
on chip by default, in external memory when named in ``offchip``. Names follow :func:`lpgnas.names.tensor_name`,
so images, ports and configs cannot disagree.
"""

from __future__ import annotations

from lpgnas.ir import ModelIR
from lpgnas.names import tensor_name
from lpgnas.operators import ATTENTIONS

#: the output buffer's name (host side; the RTL port prefix and image name)
OUTPUTS = "outputs"
#: the sparse layer 0's grouped CSR (:mod:`lpgnas.sparse`)
SPARSE_FEATURES = ("feat_ptr", "feat_col", "feat_val")


def host_buffers(ir: ModelIR, sparse_input: bool = False) -> list[str]:
    """The host buffers of ``ir``'s accelerator, in port order."""
    names = list(SPARSE_FEATURES) if sparse_input else ["features"]
    names += ["row_ptr", "col_idx"]
    for layer in ir.layers:
        if "coef" in layer.formats and not ATTENTIONS[layer.attention].softmax:
            names.append(tensor_name(layer.name, "coef"))
        if "recip" in layer.formats:
            names.append(tensor_name(layer.name, "recip"))
    return [*names, OUTPUTS]


def internal_buffers(ir: ModelIR) -> list[str]:
    """The accelerator's row buffers: per layer its linear buffer and the buffer of the rows it writes."""
    names: list[str] = []
    for k, layer in enumerate(ir.layers):
        names += [tensor_name(layer.name, "lin"), f"buf_{k + 1}"]
    return names


def buffer_names(ir: ModelIR, sparse_input: bool = False) -> list[str]:
    """Every buffer that ``HardwareConfig.offchip`` may name."""
    return host_buffers(ir, sparse_input) + internal_buffers(ir)
