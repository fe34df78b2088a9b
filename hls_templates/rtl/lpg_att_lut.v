// lpg_att_lut: a lookup table (lpgnas.tables.function_table image, $readmemh) with N combinational read
// ports (asynchronous read: LUT ROM). The attention unit's tanh table (linear: one port; gene-linear:
// F_OUT ports, one per feature, read in the same cycle).
module lpg_att_lut #(
    parameter W         = 8,
    parameter D         = 16,
    parameter AW        = 4,
    parameter N         = 1,
    parameter INIT_FILE = "lut.mem"
) (
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [N*AW-1:0] addr,
    /* verilator lint_on UNUSEDSIGNAL */
    output wire [N*W-1:0]  q
);
    reg [W-1:0] mem [0:D-1];

    initial $readmemh(INIT_FILE, mem);

    // Lint waiver: the address may be wider than D needs; addresses >= D never occur.
    /* verilator lint_off WIDTHTRUNC */
    genvar k;
    generate
        for (k = 0; k < N; k = k + 1) begin : g_port
            assign q[k*W +: W] = mem[addr[k*AW +: AW]];
        end
    endgenerate
    /* verilator lint_on WIDTHTRUNC */
endmodule
