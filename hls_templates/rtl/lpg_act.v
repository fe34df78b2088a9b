// lpg_act: the activation of one aggregation lane, lpgnas.golden.ACTIVATION_FUNCTIONS in hardware.
// Input: a code of the aggregation format (AGG_W bits, two's complement if AGG_SIGNED); output: the
// activated code in the same format as a signed ASW-bit value (ASW = AGG_W, + 1 zero sign bit if unsigned).
// ACT is the activation's position in the registry (lpgnas.operators.ACTIVATIONS; rtl_writer.RTL_ACTIVATIONS):
//   ACT 0 relu        max(q, 0)
//   ACT 1 identity    q
//   ACT 2 elu         q >= 0 ? q : table entry (the ROM holds the negative half only)
//   ACT 3 tanh        table entry
//   ACT 4 sigmoid     table entry
//   ACT 5 leaky_relu  q >= 0 ? q : (q * LEAKY + 2^(LEAKY_FRAC-1)) >>> LEAKY_FRAC   (round half up)
//   ACT 6 relu6       min(max(q, 0), R6MAX)   (R6MAX = lpgnas.tables.relu6_max_code)
//   ACT 7 softplus    (q >>> TSHIFT) > 2^THB - 1 ? q : table entry
// The table (ACT 2, 3, 4, 7) is an lpg_table (asynchronous LUT ROM, TD words from TABLE_FILE, indexing rule
// TSHIFT / THB), one per lane: no pipeline stage, the aggregation unit's timing is that of relu.
module lpg_act #(
    parameter AGG_W      = 8,
    parameter AGG_SIGNED = 1,
    parameter ACT        = 1,
    parameter LEAKY      = 10,
    parameter LEAKY_FRAC = 10,
    parameter R6MAX      = 0,
    parameter TSHIFT     = 0,
    parameter THB        = 8,
    parameter TD         = 512,
    parameter TABLE_FILE = "table.mem"
) (
    input  wire        [AGG_W-1:0]                               a,
    output wire signed [AGG_W + ((AGG_SIGNED != 0) ? 0 : 1) - 1:0] y
);
    localparam ASW = AGG_W + ((AGG_SIGNED != 0) ? 0 : 1);
    localparam LKW = ASW + LEAKY_FRAC + 2;   // q * LEAKY + rounding offset (LEAKY <= 2^LEAKY_FRAC)
    localparam TAB = (ACT == 2) || (ACT == 3) || (ACT == 4) || (ACT == 7);

    wire signed [ASW-1:0] q = (AGG_SIGNED != 0) ? {{(ASW-AGG_W){a[AGG_W-1]}}, a} : {{(ASW-AGG_W){1'b0}}, a};
    wire neg = q[ASW-1];

    // ---- table lookup (tanh, sigmoid, elu, softplus) ----------------------------------------------------
    wire [AGG_W-1:0] tq;
    wire             above;
    generate
        if (TAB) begin : g_table
            lpg_table #(.IN_W(ASW), .SHIFT(TSHIFT), .HB(THB), .D(TD), .W(AGG_W), .INIT_FILE(TABLE_FILE)) u_table (
                .q(q), .y(tq), .above(above));
        end else begin : g_notable
            assign tq = {AGG_W{1'b0}};
            assign above = 1'b0;
        end
    endgenerate
    wire signed [ASW-1:0] t = (AGG_SIGNED != 0) ? {{(ASW-AGG_W){tq[AGG_W-1]}}, tq} : {{(ASW-AGG_W){1'b0}}, tq};

    // ---- leaky_relu: q * slope, rounded half up (|result| <= |q|: the low ASW bits hold it) -------------------
    // The constant product is a shift-add over the slope's set bits (10 = 8 + 2: one adder), so synthesis
    // never spends a DSP on it.
    localparam signed [LKW-1:0] LKONE  = {{(LKW-1){1'b0}}, 1'b1};
    localparam signed [LKW-1:0] LKHALF = LKONE <<< (LEAKY_FRAC - 1);
    wire signed [LKW-1:0] q_l = {{(LKW-ASW){q[ASW-1]}}, q};
    wire [(LEAKY_FRAC+2)*LKW-1:0] lk_part;   // lk_part[b] = 2^(LEAKY_FRAC-1) + q * (LEAKY mod 2^b)
    assign lk_part[LKW-1:0] = LKHALF;
    genvar b;
    generate
        for (b = 0; b <= LEAKY_FRAC; b = b + 1) begin : g_lk
            if ((LEAKY >> b) % 2 == 1) begin : g_set
                assign lk_part[(b+1)*LKW +: LKW] = lk_part[b*LKW +: LKW] + (q_l <<< b);
            end else begin : g_clear
                assign lk_part[(b+1)*LKW +: LKW] = lk_part[b*LKW +: LKW];
            end
        end
    endgenerate
    // Lint waiver: the high bits of the scaled value are copies of its sign.
    /* verilator lint_off UNUSEDSIGNAL */
    wire signed [LKW-1:0] lk = $signed(lk_part[(LEAKY_FRAC+1)*LKW +: LKW]) >>> LEAKY_FRAC;
    /* verilator lint_on UNUSEDSIGNAL */

    // ---- relu6 --------------------------------------------------------------------------------------
    localparam signed [ASW-1:0] R6 = R6MAX;
    wire signed [ASW-1:0] zero = {ASW{1'b0}};

    assign y = (ACT == 0) ? (neg ? zero : q)
             : (ACT == 2) ? (neg ? t : q)
             : (ACT == 3 || ACT == 4) ? t
             : (ACT == 5) ? (neg ? lk[ASW-1:0] : q)
             : (ACT == 6) ? (neg ? zero : (q > R6) ? R6 : q)
             : (ACT == 7) ? (above ? q : t)
             : q;
endmodule
