// lpg_ram: simple dual-port RAM (one write port, one read port, one clock), synchronous read.
// Read data appears one cycle after the address (BRAM/LUTRAM inferable). Used for the on-chip
// linear-output buffers and the layer-output (next layer input) buffers; one word = one node row.
// ce: the design's clock enable (ce = 0: neither the memory nor the read register changes); re: read enable
// (rdata <= mem[raddr] only in ce-cycles with re high, held otherwise; the reader raises it exactly in the
// cycles whose data it uses in the next ce-cycle).
module lpg_ram #(
    parameter W  = 8,   // word width
    parameter D  = 16,  // depth (words)
    parameter AW = 4    // address width
) (
    input  wire          clk,
    input  wire          ce,
    input  wire          we,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [AW-1:0] waddr,
    input  wire [W-1:0]  wdata,
    input  wire [AW-1:0] raddr,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire          re,
    output reg  [W-1:0]  rdata
);
    reg [W-1:0] mem [0:D-1];

    // Lint waiver: address ports may be wider than D needs (node counters also hold the count itself);
    // addresses >= D never occur.
    /* verilator lint_off WIDTHTRUNC */

    always @(posedge clk) begin
        if (ce && we) mem[waddr] <= wdata;
        if (ce && re) rdata <= mem[raddr];
    end
    /* verilator lint_on WIDTHTRUNC */
endmodule
