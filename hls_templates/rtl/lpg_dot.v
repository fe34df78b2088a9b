// lpg_dot: one dot-product lane of the transform unit: P multipliers (lpg_mul) and a balanced
// adder tree, combinational. x holds P signed XW-bit activations, w holds P WW-bit weight codes
// (element k at bits [k*W +: W]). The sum is SW bits, wide enough for P products (no overflow).
module lpg_dot #(
    parameter P        = 4,
    parameter XW       = 8,
    parameter WW       = 8,
    parameter WKIND    = 0,
    parameter MULT_MAP = 0,
    parameter SW       = 20
) (
    input  wire        [P*XW-1:0] x,
    input  wire        [P*WW-1:0] w,
    output wire signed [SW-1:0]   sum
);
    localparam PW = (WKIND == 0) ? XW + WW : XW + 1;
    // leaves padded to a power of two; node i of the tree adds nodes 2i+1 and 2i+2
    localparam L = (P <= 1) ? 1 : (1 << $clog2(P));

    wire signed [SW-1:0] node [0:2*L-2] /* verilator split_var */;

    genvar k;
    generate
        for (k = 0; k < L; k = k + 1) begin : g_leaf
            if (k < P) begin : g_mul
                wire signed [PW-1:0] p;
                lpg_mul #(.XW(XW), .WW(WW), .WKIND(WKIND), .MULT_MAP(MULT_MAP)) u_mul (
                    .x(x[k*XW +: XW]), .w(w[k*WW +: WW]), .p(p));
                assign node[L-1+k] = {{(SW-PW){p[PW-1]}}, p};
            end else begin : g_zero
                assign node[L-1+k] = {SW{1'b0}};
            end
        end
        for (k = 0; k < L - 1; k = k + 1) begin : g_add
            assign node[k] = node[2*k+1] + node[2*k+2];
        end
    endgenerate

    assign sum = node[0];
endmodule
