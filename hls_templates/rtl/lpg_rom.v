// lpg_rom: read-only memory initialised from a $readmemh file (one hex word per line),
// synchronous read (data one cycle after the address). Holds the weights and biases.
// ce: the design's clock enable (ce = 0: q holds).
module lpg_rom #(
    parameter W         = 8,
    parameter D         = 16,
    parameter AW        = 4,
    parameter INIT_FILE = "rom.mem"
) (
    input  wire          clk,
    input  wire          ce,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [AW-1:0] addr,
    /* verilator lint_on UNUSEDSIGNAL */
    output reg  [W-1:0]  q
);
    reg [W-1:0] mem [0:D-1];

    // Lint waiver: the address may be wider than D needs; addresses >= D never occur.
    /* verilator lint_off WIDTHTRUNC */

    initial $readmemh(INIT_FILE, mem);

    always @(posedge clk) if (ce) q <= mem[addr];
    /* verilator lint_on WIDTHTRUNC */
endmodule
