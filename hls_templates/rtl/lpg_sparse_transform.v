// lpg_sparse_transform: layer 0's transform unit on sparse input features (LayerHW input = "sparse",
// lpgnas.sparse): lin[n, h, :] = requant(sum over row n's non-zeros x[n, c] * W[h][c, :]), the sums of the
// dense transform, multiplying only the non-zero codes. It reads their grouped CSR from host ports:
//   ptr_*: feat_ptr, one port; row n's groups are ptr[n] .. ptr[n+1] - 1 (every row has at least one);
//   grp_address / col_rdata / val_rdata: feat_col and feat_val as P_IN banks sharing one address (bank k,
//   address g: entry k of group g, column at [k*CW +: CW], code at [k*XW +: XW]); padding entries hold
//   column 0 and value 0, so they add 0 for every weight kind.
// Loop nest, one step per cycle: for n < num_nodes, h < HEADS, og < OG, g in row n's groups; step
// (n, h, og, g) multiplies the P_IN entries (c_k, v_k) of group g: lane j adds sum_k v_k * W[h][c_k][og*P_OUT + j].
// Weight ROM: word (h*OG + og)*F_IN + c holds W[h][c][og*P_OUT + j] at [j*WW +: WW] (zero beyond F_OUT);
// ROM_COPIES copies with two read ports each (lpg_rom2; a single-port lpg_rom for the odd last lane) give
// lane k its own read port (copy k/2, port k%2) at wbase + c_k, wbase = (h*OG + og)*F_IN.
// Row pointers: ptr[0] is read in the start cycle and ptr[1] in the next; row n's first step reads ptr[n+2],
// which arrives by row n+1's first step however short row n is, so rows follow each other without a bubble.
// Pipeline: issue (group address) -> host data (columns -> ROM addresses) -> ROM data (values registered
// alongside) -> lpg_transform_core (operands, dot products, accumulators, re-quantiser, row write): one stage
// more than the dense read, and one cycle for ptr[0]. Cycles: groups * HEADS * OG + the depth of
// hw_model.units.transform.SPARSE_PIPELINE_DEPTH.
// SPARSE_MUT (test-only mutations): 1 the walker skips each row's last group (when it has two or more),
// 2 every column reads the weight row after its own.
// ce: the design's clock enable (ce = 0: no register, ROM or pipeline stage changes; reset still acts).
module lpg_sparse_transform #(
    parameter NW          = 8,    // width of num_nodes and of node addresses (feat_ptr addresses 0 .. num_nodes)
    parameter XW          = 8,    // stored input element width
    parameter X_SIGNED    = 1,
    parameter F_IN        = 8,
    parameter P_IN        = 4,
    parameter F_OUT       = 8,
    parameter P_OUT       = 4,
    parameter OG          = 2,
    parameter HEADS       = 1,
    parameter WW          = 8,    // stored weight width (two's complement; binary 1, ternary 2)
    parameter WKIND       = 0,    // 0 fix, 1 binary, 2 ternary
    parameter MULT_MAP    = 0,    // 0 auto, 1 LUT, 2 DSP
    parameter SW          = 24,   // dot-product sum width
    parameter ACC_W       = 28,   // accumulator width
    parameter SHIFT       = 0,    // acc frac - linear frac
    parameter LW          = 8,    // linear output width
    parameter L_SIGNED    = 1,
    parameter ROUND       = 1,
    parameter LAW         = 8,    // linear buffer address width
    parameter WAW         = 4,    // weight ROM address width (HEADS * OG * F_IN words)
    parameter GAW         = 4,    // group address width
    parameter GW          = 5,    // group pointer width (feat_ptr words, 0 .. max groups)
    parameter CW          = 3,    // column width
    parameter ROM_COPIES  = 2,    // weight ROM copies, ceil(P_IN / 2)
    parameter SPARSE_MUT  = 0,    // test-only mutations (see above)
    parameter WEIGHT_FILE = "w.mem"
) (
    input  wire                  clk,
    input  wire                  ce,
    input  wire                  rst,
    input  wire                  start,
    output wire                  done,
    input  wire [NW-1:0]         num_nodes,
    output wire [NW-1:0]         ptr_address,
    output wire                  ptr_ce,
    input  wire [GW-1:0]         ptr_q,
    output wire [GAW-1:0]        grp_address,
    output wire                  grp_ce,
    input  wire [P_IN*CW-1:0]    col_rdata,
    input  wire [P_IN*XW-1:0]    val_rdata,
    output wire                  lin_we,
    output wire [LAW-1:0]        lin_waddr,
    output wire [F_OUT*LW-1:0]   lin_wdata
);
    localparam OGW   = (OG > 1) ? $clog2(OG) : 1;
    localparam HW    = (HEADS > 1) ? $clog2(HEADS) : 1;
    localparam WDEP  = HEADS * OG * F_IN;
    localparam WORDW = P_OUT * WW;            // one weight row: P_OUT weights
    localparam WROW  = P_OUT * P_IN * WW;

    localparam integer OG_LAST_I = OG - 1;
    localparam integer H_LAST_I  = HEADS - 1;
    localparam integer F_IN_I    = F_IN;
    localparam integer ONE_I     = 1;
    localparam integer TWO_I     = 2;
    localparam [OGW-1:0] OG_LAST = OG_LAST_I[OGW-1:0];
    localparam [HW-1:0]  H_LAST  = H_LAST_I[HW-1:0];
    localparam [WAW-1:0] F_IN_C  = F_IN_I[WAW-1:0];
    localparam [NW-1:0]  PTR_1   = ONE_I[NW-1:0];
    localparam [NW-1:0]  PTR_2   = TWO_I[NW-1:0];
    localparam integer COL_MUT_I = (SPARSE_MUT == 2) ? 1 : 0;
    localparam [WAW-1:0] COL_MUT = COL_MUT_I[WAW-1:0];

    // ---- issue stage: the row walker --------------------------------------------------------------
    reg           pre;                  // the cycle after start: ptr[0] arrives, ptr[1] is read
    reg           running, row_first, grp_first;
    reg           pv;                   // ptr_q holds the word read in the previous cycle
    reg [NW-1:0]  n;
    reg [HW-1:0]  h;
    reg [OGW-1:0] og;
    reg [GW-1:0]  g, gs, ge_r, nxt_r;   // group, row n's first group, row n's end, the last pointer read
    reg [WAW-1:0] wbase;                // (h*OG + og) * F_IN

    wire [GW-1:0] nxt    = pv ? ptr_q : nxt_r;      // ptr[n+1] by row n's first step
    wire [GW-1:0] ge     = row_first ? nxt : ge_r;  // end of row n's groups
    wire [GW-1:0] g_next = g + 1'b1;
    wire last_g   = (g_next == ge) || (SPARSE_MUT == 1 && g_next + 1'b1 == ge);
    wire last_og  = (og == OG_LAST);
    wire last_h   = (h == H_LAST);
    wire last_n   = (n == num_nodes - 1'b1);

    assign ptr_address = start ? {NW{1'b0}} : pre ? PTR_1 : n + PTR_2;
    assign ptr_ce      = start | pre | (running & row_first & ~last_n);
    assign grp_address = g[GAW-1:0];
    assign grp_ce      = running;

    wire adv = ce | rst;   // registers with an inline reset advance in ce-cycles and on reset

    always @(posedge clk) begin
        if (adv) begin
            pv <= ptr_ce & ~rst;
            nxt_r <= nxt;
        end
        if (rst) begin
            pre <= 1'b0;
            running <= 1'b0;
        end else if (!ce) begin
            // stalled: hold
        end else if (start) begin
            pre <= 1'b1;
            running <= 1'b0;
        end else if (pre) begin
            pre <= 1'b0;
            running <= (num_nodes != {NW{1'b0}});
            n <= {NW{1'b0}}; h <= {HW{1'b0}}; og <= {OGW{1'b0}}; wbase <= {WAW{1'b0}};
            g <= ptr_q; gs <= ptr_q;
            row_first <= 1'b1;
            grp_first <= 1'b1;
        end else if (running) begin
            ge_r <= ge;
            row_first <= last_g & last_og & last_h;
            grp_first <= last_g;
            if (!last_g) begin
                g <= g_next;
            end else if (!last_og) begin
                g <= gs; og <= og + 1'b1; wbase <= wbase + F_IN_C;
            end else if (!last_h) begin
                g <= gs; og <= {OGW{1'b0}}; h <= h + 1'b1; wbase <= wbase + F_IN_C;
            end else begin
                g <= ge; gs <= ge; og <= {OGW{1'b0}}; h <= {HW{1'b0}}; wbase <= {WAW{1'b0}};
                if (last_n) running <= 1'b0;
                else n <= n + 1'b1;
            end
        end
    end

    // ---- stage s1: host data valid; lane k's weight row address wbase + c_k ---------------------------
    reg           s1_v, s1_first, s1_last, s1_lastog;
    reg [NW-1:0]  s1_n;
    reg [HW-1:0]  s1_h;
    reg [WAW-1:0] s1_wbase;
    always @(posedge clk) if (adv) begin
        s1_v <= running & ~rst & ~start;
        s1_first <= grp_first; s1_last <= last_g; s1_lastog <= last_og;
        s1_n <= n; s1_h <= h; s1_wbase <= wbase;
    end

    wire [P_IN*WAW-1:0]   waddr;
    wire [P_IN*WORDW-1:0] wrow;
    genvar gk, gj;
    generate
        for (gk = 0; gk < P_IN; gk = gk + 1) begin : g_waddr
            wire [CW-1:0] c = col_rdata[gk*CW +: CW];
            wire [WAW-1:0] c_e;
            if (WAW > CW) begin : g_ext
                assign c_e = {{(WAW-CW){1'b0}}, c};
            end else begin : g_same
                assign c_e = c;
            end
            assign waddr[gk*WAW +: WAW] = s1_wbase + c_e + COL_MUT;
        end
        for (gk = 0; gk < ROM_COPIES; gk = gk + 1) begin : g_rom
            if (2 * gk + 1 < P_IN) begin : g_two
                lpg_rom2 #(.W(WORDW), .D(WDEP), .AW(WAW), .INIT_FILE(WEIGHT_FILE)) u_wrom (
                    .clk(clk), .ce(ce), .addr_a(waddr[2*gk*WAW +: WAW]), .addr_b(waddr[(2*gk+1)*WAW +: WAW]),
                    .q_a(wrow[2*gk*WORDW +: WORDW]), .q_b(wrow[(2*gk+1)*WORDW +: WORDW]));
            end else begin : g_one
                lpg_rom #(.W(WORDW), .D(WDEP), .AW(WAW), .INIT_FILE(WEIGHT_FILE)) u_wrom (
                    .clk(clk), .ce(ce), .addr(waddr[2*gk*WAW +: WAW]), .q(wrow[2*gk*WORDW +: WORDW]));
            end
        end
    endgenerate

    // ---- stage s2 (the core's stage 1): weight rows valid, values registered alongside ------------------
    reg              v1, first1, last1, lastog1;
    reg [NW-1:0]     n1;
    reg [HW-1:0]     h1;
    reg [P_IN*XW-1:0] x1;
    always @(posedge clk) if (adv) begin
        v1 <= s1_v & ~rst;
        first1 <= s1_first; last1 <= s1_last; lastog1 <= s1_lastog; n1 <= s1_n; h1 <= s1_h;
        x1 <= val_rdata;
    end
    // the core's weight block: element j*P_IN + k = lane k's weight row, element j
    wire [WROW-1:0] w1;
    generate
        for (gk = 0; gk < P_IN; gk = gk + 1) begin : g_wk
            for (gj = 0; gj < P_OUT; gj = gj + 1) begin : g_wj
                assign w1[(gj*P_IN + gk)*WW +: WW] = wrow[gk*WORDW + gj*WW +: WW];
            end
        end
    endgenerate

    lpg_transform_core #(
        .NW(NW), .XW(XW), .X_SIGNED(X_SIGNED), .P_IN(P_IN), .F_OUT(F_OUT), .P_OUT(P_OUT), .OG(OG),
        .HEADS(HEADS), .WW(WW), .WKIND(WKIND), .MULT_MAP(MULT_MAP), .SW(SW), .ACC_W(ACC_W), .SHIFT(SHIFT),
        .LW(LW), .L_SIGNED(L_SIGNED), .ROUND(ROUND), .LAW(LAW)
    ) u_core (
        .clk(clk), .ce(ce), .rst(rst), .start(start), .issuing(pre | running | s1_v), .done(done),
        .v1(v1), .first1(first1), .last1(last1), .lastog1(lastog1), .n1(n1), .h1(h1), .x1(x1), .w1(w1),
        .lin_we(lin_we), .lin_waddr(lin_waddr), .lin_wdata(lin_wdata));
endmodule
