// lpg_rom2: read-only memory with two read ports, initialised from a $readmemh file (one hex word per line),
// synchronous reads (data one cycle after the address). One block RAM in true dual-port mode serves both
// ports (Yosys, xc7: 1024 x 32 bits -> one RAMB36); the sparse read of layer 0 gathers weight rows with it.
// ce: the design's clock enable (ce = 0: q_a, q_b hold).
module lpg_rom2 #(
    parameter W         = 8,
    parameter D         = 16,
    parameter AW        = 4,
    parameter INIT_FILE = "rom.mem"
) (
    input  wire          clk,
    input  wire          ce,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [AW-1:0] addr_a,
    input  wire [AW-1:0] addr_b,
    /* verilator lint_on UNUSEDSIGNAL */
    output reg  [W-1:0]  q_a,
    output reg  [W-1:0]  q_b
);
    reg [W-1:0] mem [0:D-1];

    // Lint waiver: the address may be wider than D needs; addresses >= D never occur.
    /* verilator lint_off WIDTHTRUNC */

    initial $readmemh(INIT_FILE, mem);

    always @(posedge clk) begin
        if (ce) begin
            q_a <= mem[addr_a];
            q_b <= mem[addr_b];
        end
    end
    /* verilator lint_on WIDTHTRUNC */
endmodule
