// lpg_mul: one product x * w of a signed activation x and a weight code w.
//   WKIND 0: w is a WW-bit two's complement integer -> a multiplier; MULT_MAP picks its mapping:
//            0 auto (synthesis decides: a `*`), 2 DSP slice (a `*` with use_dsp="yes"),
//            1 LUT fabric: a shift-and-add over the weight's bits, the MSB's term subtracted (two's
//              complement); there is no `*`, so no synthesis tool can infer a DSP slice for it.
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
    genvar b;
    generate
        if (WKIND == 0) begin : g_fix
            wire signed [PW-1:0] xe = {{(PW-XW){x[XW-1]}}, x};
            if (MULT_MAP == 2) begin : g_dsp
                wire signed [PW-1:0] we = {{(PW-WW){w[WW-1]}}, w};
                (* use_dsp = "yes" *) wire signed [PW-1:0] prod = xe * we;
                assign p = prod;
            end else if (MULT_MAP == 1) begin : g_lut
                // acc[b] = sum of the terms of weight bits 0 .. b-1; bit WW-1 weighs -2^(WW-1)
                wire [PW*(WW+1)-1:0] acc;
                assign acc[PW-1:0] = {PW{1'b0}};
                for (b = 0; b < WW; b = b + 1) begin : g_bit
                    wire [PW-1:0] term = w[b] ? (xe << b) : {PW{1'b0}};
                    if (b == WW - 1) begin : g_msb
                        assign acc[PW*(b+2)-1:PW*(b+1)] = acc[PW*(b+1)-1:PW*b] - term;
                    end else begin : g_low
                        assign acc[PW*(b+2)-1:PW*(b+1)] = acc[PW*(b+1)-1:PW*b] + term;
                    end
                end
                assign p = acc[PW*(WW+1)-1:PW*WW];
            end else begin : g_auto
                wire signed [PW-1:0] we = {{(PW-WW){w[WW-1]}}, w};
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
