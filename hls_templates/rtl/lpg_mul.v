// lpg_mul: one product x * w of a signed activation x and a weight code w.
//   WKIND 0: w is a WW-bit two's complement integer -> a multiplier; MULT_MAP picks its mapping:
//            0 auto (synthesis decides), 1 LUT fabric (use_dsp="no"), 2 DSP slice (use_dsp="yes").
//   WKIND 1: binary, w is 1 bit, 0 -> -1, 1 -> +1: a conditional negation (no multiplier).
//   WKIND 2: ternary, w is 2-bit two's complement in {-1, 0, +1}: negate / pass / zero.
// The product is PW = XW + WW bits (fix) or XW + 1 bits (binary/ternary), exact.
module lpg_mul #(
    parameter XW       = 8,
    parameter WW       = 8,
    parameter WKIND    = 0,
    parameter MULT_MAP = 0,
    parameter PW       = (WKIND == 0) ? XW + WW : XW + 1
) (
    input  wire signed [XW-1:0] x,
    input  wire        [WW-1:0] w,
    output wire signed [PW-1:0] p
);
    generate
        if (WKIND == 0) begin : g_fix
            wire signed [WW-1:0] ws = w;
            wire signed [PW-1:0] xe = {{(PW-XW){x[XW-1]}}, x};
            wire signed [PW-1:0] we = {{(PW-WW){ws[WW-1]}}, ws};
            if (MULT_MAP == 2) begin : g_dsp
                (* use_dsp = "yes" *) wire signed [PW-1:0] prod = xe * we;
                assign p = prod;
            end else if (MULT_MAP == 1) begin : g_lut
                (* use_dsp = "no" *) wire signed [PW-1:0] prod = xe * we;
                assign p = prod;
            end else begin : g_auto
                assign p = xe * we;
            end
        end else begin : g_sign
            wire signed [PW-1:0] xe  = {x[XW-1], x};
            wire                 neg = (WKIND == 1) ? ~w[0] : w[WW-1];
            wire                 nz  = (WKIND == 1) ? 1'b1  : |w;
            assign p = nz ? (neg ? -xe : xe) : {PW{1'b0}};
        end
    endgenerate
endmodule
