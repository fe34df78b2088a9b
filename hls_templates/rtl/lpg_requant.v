// lpg_requant: re-quantiser, exactly lpgnas.numfmt.requantize_np for fix output formats.
// A signed IN_W-bit accumulator with binary point f_in becomes an OUT_W-bit code with point f_out,
// SHIFT = f_in - f_out:
//   SHIFT > 0:  (d + 2^(SHIFT-1)) >>> SHIFT   (round half up, arithmetic shift)
//   SHIFT <= 0: d <<< -SHIFT
// then saturation to [-2^(OUT_W-1), 2^(OUT_W-1)-1] (OUT_SIGNED) or [0, 2^OUT_W - 1].
// ROUND = 0 drops the rounding offset (truncation); it exists only for mutation tests.
module lpg_requant #(
    parameter IN_W       = 16,
    parameter SHIFT      = 0,
    parameter OUT_W      = 8,
    parameter OUT_SIGNED = 1,
    parameter ROUND      = 1
) (
    input  wire signed [IN_W-1:0] d,
    output wire        [OUT_W-1:0] q
);
    localparam LS   = (SHIFT < 0) ? -SHIFT : 0;
    localparam RS   = (SHIFT > 0) ? SHIFT : 0;
    localparam RSM1 = (RS > 0) ? RS - 1 : 0;
    localparam A1   = IN_W + LS;
    localparam A2   = (A1 > OUT_W) ? A1 : OUT_W;
    localparam A3   = (A2 > RS) ? A2 : RS;
    localparam T_W  = A3 + 2;   // holds d << LS, the rounding offset and the saturation bounds

    localparam signed [T_W-1:0] ONE  = {{(T_W-1){1'b0}}, 1'b1};
    localparam signed [T_W-1:0] HALF = (RS > 0 && ROUND != 0) ? (ONE <<< RSM1) : {T_W{1'b0}};
    localparam signed [T_W-1:0] QMAX = (OUT_SIGNED != 0) ? (ONE <<< (OUT_W - 1)) - ONE : (ONE <<< OUT_W) - ONE;
    localparam signed [T_W-1:0] QMIN = (OUT_SIGNED != 0) ? -(ONE <<< (OUT_W - 1)) : {T_W{1'b0}};

    wire signed [T_W-1:0] dx  = {{(T_W-IN_W){d[IN_W-1]}}, d};
    wire signed [T_W-1:0] sh  = dx <<< LS;
    wire signed [T_W-1:0] r   = (sh + HALF) >>> RS;

    assign q = (r > QMAX) ? QMAX[OUT_W-1:0] : (r < QMIN) ? QMIN[OUT_W-1:0] : r[OUT_W-1:0];
endmodule
