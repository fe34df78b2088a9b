// lpg_table: one read port of a function table (lpgnas.tables), the table indexing rule in hardware.
// A code q (signed IN_W bits; unsigned codes come zero-extended) with binary point frac selects entry
//   clamp(q >>> SHIFT, -2^HB, 2^HB - 1) + 2^HB
// (lpgnas.tables.table_index: SHIFT = shift, 2^HB = -lo) of a ROM of D words of W bits loaded with
// $readmemh from INIT_FILE: D = 2^(HB+1) for a whole table; D = 2^HB for a table that holds only its
// negative half (inputs < 0: elu, exp of x <= 0), which then reads an unspecified word for q >= 0 (the
// caller does not use it). above = (q >>> SHIFT) > 2^HB - 1: the input lies beyond the table's top.
// Asynchronous read: a LUT ROM (constant logic or LUTRAM, as synthesis decides), one copy per read port,
// no pipeline stage. Tables have at most 512 entries (TABLE_RANGE 8 at resolution 2^-TABLE_FRAC = 2^-5).
module lpg_table #(
    parameter IN_W      = 8,
    parameter SHIFT     = 0,
    parameter HB        = 8,
    parameter D         = 512,
    parameter W         = 8,
    parameter INIT_FILE = "table.mem"
) (
    input  wire signed [IN_W-1:0] q,
    output wire        [W-1:0]    y,
    output wire                   above
);
    localparam AW  = (D > 1) ? $clog2(D) : 1;
    localparam CW0 = (IN_W > HB + 1) ? IN_W : HB + 1;
    localparam CW  = CW0 + 2;   // holds q >>> SHIFT and +-2^HB

    localparam signed [CW-1:0] ONE  = {{(CW-1){1'b0}}, 1'b1};
    localparam signed [CW-1:0] HALF = ONE <<< HB;
    localparam signed [CW-1:0] LO   = -HALF;
    localparam signed [CW-1:0] HI   = HALF - ONE;

    wire signed [IN_W-1:0] qs = q >>> SHIFT;
    wire signed [CW-1:0]   qe = {{(CW-IN_W){qs[IN_W-1]}}, qs};
    wire signed [CW-1:0]   c  = (qe < LO) ? LO : (qe > HI) ? HI : qe;
    // Lint waiver: idx is below 2^(HB+1) <= 2^AW * 2; only its low AW bits address the ROM.
    /* verilator lint_off UNUSEDSIGNAL */
    wire        [CW-1:0]   idx = c - LO;
    /* verilator lint_on UNUSEDSIGNAL */
    assign above = (qe > HI);

    reg [W-1:0] rom [0:D-1];
    initial $readmemh(INIT_FILE, rom);
    generate
        if (D > 1) begin : g_read
            assign y = rom[idx[AW-1:0]];
        end else begin : g_one      // a one-entry half table (frac <= -3): every input < 0 reads it
            assign y = rom[0];
        end
    endgenerate
endmodule
